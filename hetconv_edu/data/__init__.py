"""The lessons' data: CIFAR-10 and Fashion-MNIST in memory, batched and augmented in torch.

Each data set is read once from its official files into uint8 tensors (:class:`ImageDataset`).
:class:`Batches` then serves shuffled, augmented, normalised batches on any device, with the same
data order for every model trained with the same seed, and a disjoint shard per distributed rank.

Where the files come from, in order:

* CIFAR-10: an extracted ``cifar-10-batches-py/`` folder in the data folder (torchvision's
  layout), else the official archive ``cifar-10-python.tar.gz`` there, else a download of it.
  The archive's md5 is checked before anything in it is read, every batch file's md5, shapes
  and labels when it is read; the batch pickles are read with an unpickler that can build numpy
  arrays and bytes and nothing else.
* Fashion-MNIST: the four official ``*-ubyte.gz`` files in ``fashion-mnist/`` in the data folder,
  else in Debian's ``/usr/share/datasets/fashion-mnist/`` (``apt install dataset-fashion-mnist``),
  else a download of them. Every file's checksum is checked.

The data folder is ``$HETCONV_EDU_DATA`` if set, else the project's ``data/`` folder; every
loader also takes ``root=``. Importing this module reads, writes and downloads nothing. Every
file is written atomically (:mod:`hetconv_edu.fileio`); a file the user put in the data folder
is never deleted (one with a wrong checksum is moved aside once a download replaced it).

The modules, one idea each (every public name is re-exported here):

* :mod:`~hetconv_edu.data.folder`: the data folder (``$HETCONV_EDU_DATA``).
* :mod:`~hetconv_edu.data.errors`: the exceptions and the wording of what to do.
* :mod:`~hetconv_edu.data.fetch`: checksums and checked, atomic downloads.
* :mod:`~hetconv_edu.data.pickles`: the restricted unpickler of CIFAR-10's batches.
* :mod:`~hetconv_edu.data.dataset`: :class:`ImageDataset` and class-balanced subsets.
* :mod:`~hetconv_edu.data.cifar10` and :mod:`~hetconv_edu.data.fashion_mnist`: the loaders.
* :mod:`~hetconv_edu.data.catalog`: the data sets by name (:func:`load_dataset`).
* :mod:`~hetconv_edu.data.batches`: augmentation, normalisation and :class:`Batches`.
* :mod:`~hetconv_edu.data.samples`: one test image per class for figures (:func:`sample_images`).

The names here are the modules' own objects: a test that changes a setting patches it where it is
used (``hetconv_edu.data.fashion_mnist.FASHION_MNIST_SYSTEM_DIRS``,
``hetconv_edu.data.cifar10.CIFAR10_FILE_MD5``), not on this package.
"""

from __future__ import annotations

from hetconv_edu.data.batches import Batches, augment, normalize
from hetconv_edu.data.catalog import (
    DATASET_LABELS,
    DATASET_NAMES,
    load_dataset,
    load_dataset_with_notes,
)
from hetconv_edu.data.cifar10 import (
    CIFAR10_ARCHIVE,
    CIFAR10_FILE_MD5,
    CIFAR10_FOLDER,
    CIFAR10_MD5,
    CIFAR10_URL,
    load_cifar10,
)
from hetconv_edu.data.dataset import ImageDataset
from hetconv_edu.data.errors import DataIntegrityError, DataNotOfficialWarning, DatasetNotFoundError
from hetconv_edu.data.fashion_mnist import (
    FASHION_MNIST_CLASSES,
    FASHION_MNIST_FOLDER,
    FASHION_MNIST_MD5,
    FASHION_MNIST_SYSTEM_DIRS,
    FASHION_MNIST_URL,
    load_fashion_mnist,
    parse_idx,
)
from hetconv_edu.data.fetch import download, file_md5
from hetconv_edu.data.folder import DATA_DIR_ENV, default_data_dir
from hetconv_edu.data.samples import SampleImages, sample_images

__all__ = [
    "CIFAR10_ARCHIVE",
    "CIFAR10_FILE_MD5",
    "CIFAR10_FOLDER",
    "CIFAR10_MD5",
    "CIFAR10_URL",
    "DATASET_LABELS",
    "DATASET_NAMES",
    "DATA_DIR_ENV",
    "FASHION_MNIST_CLASSES",
    "FASHION_MNIST_FOLDER",
    "FASHION_MNIST_MD5",
    "FASHION_MNIST_SYSTEM_DIRS",
    "FASHION_MNIST_URL",
    "Batches",
    "DataIntegrityError",
    "DataNotOfficialWarning",
    "DatasetNotFoundError",
    "ImageDataset",
    "SampleImages",
    "augment",
    "default_data_dir",
    "download",
    "file_md5",
    "load_cifar10",
    "load_dataset",
    "load_dataset_with_notes",
    "load_fashion_mnist",
    "normalize",
    "parse_idx",
    "sample_images",
]
