"""The linked explorer's views, one idea a module: pure functions, (state, filter response) in
→ plotly data, HTML.

One screen shows a HetConv layer (M, N, K, P) five ways (the app, :mod:`hetconv_edu.apps.
linked_explorer`, wires the controls; notebook 01 opens with it):

1. the controls (the app's widgets);
2. **overview** — the N×M kernel map, the selected filter's row outlined
   (:mod:`~hetconv_edu.viz.linked.kernel_map`);
3. **detail** — filter n at its real kernel sizes over a window of input channels, each kernel
   above the input channel it reads (:mod:`~hetconv_edu.viz.linked.filter_row`), and that
   filter applied to a real image: the image, then the K×K path's response + the 1×1 path's
   response = the output, beside a standard K×K filter with the same K×K kernels and centre
   taps and the difference (:mod:`~hetconv_edu.viz.linked.responses`);
4. **formula** — FL_H with today's numbers, the two terms' shares as a bar, the ratio to
   standard, the weights (:mod:`~hetconv_edu.viz.linked.formula`);
5. **linking** — every part that belongs to the K×K term (map cells, kernels, input channels,
   response, formula term) carries the link ``"kxk"``, every 1×1 part ``"1x1"``.

Views 2 and 3 are one plotly figure (:mod:`~hetconv_edu.viz.linked.figure`), laid out in pixel
boxes (:mod:`~hetconv_edu.viz.linked.geometry`), so the page draws them at once. Linking
happens in the page (:mod:`~hetconv_edu.viz.linked.linking`): each trace names its link in
``meta`` (``{"link": "kxk"}``); the app's small script sets the link of the hovered part on the
app's root element (:data:`~hetconv_edu.viz.linked.state.LINK_ATTRIBUTE`), and CSS rules
(:func:`~hetconv_edu.viz.linked.linking.link_css`) then highlight the formula's term and the
figure's *link shapes* — frames drawn with opacity 0 around the filter's kernels and input
channels and around the path responses, named ``"link-kxk"`` / ``"link-1x1"`` and made visible
by their ``data-index``. No Python runs on a hover. What the views read and the names they
share are in :mod:`~hetconv_edu.viz.linked.state`.

The response maps use a diverging brown–white–teal scale, symmetric around 0; the input
channels share a grey scale (0 = black). Import the public names from
:mod:`hetconv_edu.viz.linked_explorer`, which re-exports them.
"""
