/* The HetConv page's script: read the controls, look the setting up, draw it.
 *
 * Every figure, count and formula was computed by the hetconv_edu package when the page was
 * exported (data/index.js, data/layer-M-N.js). This script does no arithmetic about
 * convolutions: it offers the settings the index lists, loads a layer's data when it is first
 * needed (a <script> tag, which works from file://), inflates it (gzip + base64, with the
 * browser's DecompressionStream), expands its shared parts ({"$ref": i} → pool[i]) and hands
 * the stored figures to plotly.js and the stored tables to the page.
 *
 * window.hetconvSite tells tests and curious students what is shown: state, renders, ready,
 * error. The setting is also kept in the address (#m=16&n=16&k=3&p=4&f=0), so a link opens
 * the page on the same layer.
 */
"use strict";

(function () {
  const INDEX = window.HETCONV_SITE_INDEX;
  const site = (window.hetconvSite = {
    ready: false, state: null, renders: 0, error: null, shown: null,
  });
  const chunks = new Map(); // "M,N" -> Promise of the decoded chunk
  const waiting = new Map(); // "M,N" -> resolve of the script that brings it
  const PLOT_CONFIG = { responsive: true, displaylogo: false };
  let sequence = 0;

  window.HETCONV_SITE = {
    addChunk(key, payload) {
      const resolve = waiting.get(key);
      if (resolve) {
        waiting.delete(key);
        resolve(payload);
      }
    },
  };

  const $ = (id) => document.getElementById(id);

  function fail(message) {
    site.error = message;
    const status = $("status");
    status.textContent = message;
    status.classList.add("error");
  }

  // ------------------------------------------------------------------------- the data

  async function inflate(base64) {
    const bytes = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
    const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"));
    return JSON.parse(await new Response(stream).text());
  }

  function expand(value, pool) {
    if (Array.isArray(value)) return value.map((v) => expand(v, pool));
    if (value !== null && typeof value === "object") {
      const keys = Object.keys(value);
      if (keys.length === 1 && keys[0] === "$ref") return expand(pool[value.$ref], pool);
      const out = {};
      for (const key of keys) out[key] = expand(value[key], pool);
      return out;
    }
    return value;
  }

  function loadLayer(key) {
    if (!chunks.has(key)) {
      const promise = new Promise((resolve, reject) => {
        waiting.set(key, resolve);
        const script = document.createElement("script");
        script.src = INDEX.layers[key].chunk;
        script.onerror = () => reject(new Error(`could not load ${script.src}`));
        document.head.appendChild(script);
      }).then(inflate);
      promise.catch(() => chunks.delete(key)); // a later change tries again
      chunks.set(key, promise);
    }
    return chunks.get(key);
  }

  // --------------------------------------------------------------------- the controls

  const layerKey = (s) => `${s.m},${s.n}`;
  const parts = (s) => INDEX.layers[layerKey(s)].parts;
  const filters = (p) => INDEX.filters[String(p)];

  function fillSelect(select, values, current) {
    select.replaceChildren(
      ...values.map((v) => new Option(String(v), String(v), false, v === current)),
    );
  }

  function fillChips(fieldset, name, values, current, label) {
    const legend = fieldset.querySelector("legend");
    const chips = values.map((v) => {
      const chip = document.createElement("label");
      chip.className = "chip";
      const input = document.createElement("input");
      input.type = "radio";
      input.name = name;
      input.value = String(v);
      input.checked = v === current;
      chip.append(input, document.createTextNode(label(v)));
      return chip;
    });
    fieldset.replaceChildren(legend, ...chips);
  }

  /** The setting with P and the filter made valid for its layer (the index lists them). */
  function settle(s) {
    const allowed = parts(s);
    if (!allowed.includes(s.p)) s.p = Math.max(...allowed.filter((q) => q <= s.p));
    if (!filters(s.p).includes(s.f)) s.f = 0;
    return s;
  }

  function showControls(s) {
    fillSelect($("ctl-m"), INDEX.grid.channels, s.m);
    fillSelect($("ctl-n"), INDEX.grid.channels, s.n);
    fillChips($("ctl-k"), "k", INDEX.grid.kernel_sizes, s.k, (k) => `${k}×${k}`);
    fillChips($("ctl-p"), "p", parts(s), s.p, String);
    fillChips($("ctl-f"), "f", filters(s.p), s.f, String);
    $("ctl-note").textContent =
      `P must divide both M = ${s.m} and N = ${s.n}: here P can be ${parts(s).join(", ")}. ` +
      `Filter n + ${s.p} has the same pattern as filter n.`;
  }

  function readControls() {
    const form = $("controls");
    const value = (name) => Number(new FormData(form).get(name));
    return settle({ m: value("m"), n: value("n"), k: value("k"), p: value("p"), f: value("f") });
  }

  function fromAddress() {
    const start = { ...INDEX.start };
    const given = new URLSearchParams(window.location.hash.slice(1));
    for (const key of ["m", "n", "k", "p", "f"]) {
      const v = Number(given.get(key));
      if (given.has(key) && Number.isInteger(v)) start[key] = v;
    }
    const ok =
      INDEX.grid.channels.includes(start.m) && INDEX.grid.channels.includes(start.n) &&
      INDEX.grid.kernel_sizes.includes(start.k) && start.p >= 1;
    return ok ? settle(start) : { ...INDEX.start };
  }

  // ------------------------------------------------------------------------- drawing

  async function render(s) {
    const mine = ++sequence;
    site.state = s;
    showControls(s);
    const status = $("status");
    status.textContent = "Loading…";
    status.classList.remove("error");
    document.body.setAttribute("aria-busy", "true");
    let chunk;
    try {
      chunk = await loadLayer(layerKey(s));
    } catch (error) {
      if (mine === sequence) fail(`This layer's data could not be read: ${error.message}`);
      return;
    }
    if (mine !== sequence) return; // a newer change is on its way
    try {
      const pool = chunk.pool;
      const explorer = expand(chunk.explorer[`${s.k},${s.p},${s.f}`], pool);
      const lab = expand(chunk.lab[`${s.k},${s.p}`], pool);
      // A new plot each time: Plotly.react keeps an axis range tied by scaleanchor (the
      // maps' square cells) when only the range changes, so a narrower map would keep the
      // wider map's axis.
      const draw = (id, fig) => Plotly.newPlot($(id), fig.data, fig.layout, PLOT_CONFIG);
      await Promise.all([
        draw("fig-map", explorer.map),
        draw("fig-filter", explorer.filter),
        draw("fig-ratio", lab.ratio),
      ]);
      if (mine !== sequence) return;
      $("counters").innerHTML = explorer.counters;
      $("lab-numbers").innerHTML = lab.numbers;
    } catch (error) {
      if (mine === sequence) fail(`This setting could not be drawn: ${error.message}`);
      return;
    }
    const shown = `m=${s.m}&n=${s.n}&k=${s.k}&p=${s.p}&f=${s.f}`;
    try {
      history.replaceState(null, "", `#${shown}`);
    } catch {
      // a browser that keeps file:// addresses fixed: the page works without the link
    }
    document.body.dataset.shown = shown;
    document.body.removeAttribute("aria-busy");
    status.textContent = "";
    site.shown = shown;
    site.renders += 1;
    site.ready = true;
  }

  function start() {
    if (!INDEX) {
      fail("The page's data (data/index.js) is missing: export the page again.");
      return;
    }
    if (typeof DecompressionStream === "undefined" || typeof Plotly === "undefined") {
      fail("This page needs a browser from 2023 or later (Chrome, Edge, Firefox or Safari).");
      return;
    }
    $("controls").addEventListener("change", () => render(readControls()));
    $("controls").addEventListener("submit", (event) => event.preventDefault());
    render(fromAddress());
  }

  start();
})();
