// percloss masking widget: a tone and a noise synthesised in the page (Web Audio), with the tone's masking
// threshold from model 1, precomputed by the build on a grid of tone frequency x level and interpolated
// here exactly as percloss.experiments.masking_demo.interpolate_threshold does. Markup:
// percloss.notebook.masking_widget_html. No dependencies, nothing loaded from the network.
(function () {
  "use strict";

  const SVG = "http://www.w3.org/2000/svg";
  const bark = (f) => 13 * Math.atan(0.00076 * f) + 3.5 * Math.atan((f / 7500) * (f / 7500));

  function decodeGrid(g) {
    const bytes = atob(g.masking);
    const m = new Float64Array(bytes.length);
    for (let k = 0; k < bytes.length; k++) m[k] = g.floor + bytes.charCodeAt(k) / 2;
    return m;
  }

  // index i and weight w with value = (1 - w) grid[i] + w grid[i + 1], clamped to the ends
  function bracket(grid, value) {
    let i = 0;
    while (i < grid.length - 2 && grid[i + 1] < value) i++;
    const w = (value - grid[i]) / (grid[i + 1] - grid[i]);
    return [i, Math.min(1, Math.max(0, w))];
  }

  function threshold(g, m, toneHz, toneDb) {
    const I = g.frequency.length;
    const L = g.tone_db.length;
    const [i, wf] = bracket(g.tone_hz.map(Math.log), Math.log(toneHz));
    const [j, wl] = bracket(g.tone_db, toneDb);
    const at = (a, b, r) => m[(a * L + b) * I + r];
    const out = new Float64Array(I);
    for (let r = 0; r < I; r++) {
      const part = (1 - wf) * ((1 - wl) * at(i, j, r) + wl * at(i, j + 1, r))
        + wf * ((1 - wl) * at(i + 1, j, r) + wl * at(i + 1, j + 1, r));
      out[r] = 10 * Math.log10(Math.pow(10, g.quiet[r] / 10) + Math.pow(10, part / 10));
    }
    return out;
  }

  // in-place radix-2 FFT of (re, im), sign -1 forward, +1 inverse (unscaled)
  function fft(re, im, sign) {
    const n = re.length;
    for (let i = 1, j = 0; i < n; i++) {
      let bit = n >> 1;
      for (; j & bit; bit >>= 1) j ^= bit;
      j ^= bit;
      if (i < j) { [re[i], re[j]] = [re[j], re[i]]; [im[i], im[j]] = [im[j], im[i]]; }
    }
    for (let len = 2; len <= n; len <<= 1) {
      const ang = sign * 2 * Math.PI / len;
      const wr = Math.cos(ang), wi = Math.sin(ang);
      for (let s = 0; s < n; s += len) {
        let cr = 1, ci = 0;
        for (let k = 0; k < len / 2; k++) {
          const a = s + k, b = a + len / 2;
          const tr = re[b] * cr - im[b] * ci, ti = re[b] * ci + im[b] * cr;
          re[b] = re[a] - tr; im[b] = im[a] - ti;
          re[a] += tr; im[a] += ti;
          const nr = cr * wr - ci * wi;
          ci = cr * wi + ci * wr;
          cr = nr;
        }
      }
    }
  }

  function gauss() {
    let u = 0;
    while (u === 0) u = Math.random();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * Math.random());
  }

  // A loop of Gaussian noise whose expected level is 0 dB SPL on every FFT line in [lo, hi] Hz (and zero
  // elsewhere), on the chapter's scale: white noise of standard deviation sigma reads
  // PN + 10 log10(sigma^2 / N) on each N-point line. Made in the frequency domain, so it loops seamlessly.
  function noiseBuffer(ctx, g, lo, hi) {
    const n = 65536;
    const sigma = Math.pow(10, -g.power_norm_db / 20) * Math.sqrt(g.n_fft);
    const re = new Float64Array(n), im = new Float64Array(n);
    let lines = 0;
    for (let k = 1; k < n / 2; k++) {
      const f = k * ctx.sampleRate / n;
      if (f < lo || f > hi) continue;
      const a = sigma * Math.sqrt(n / 2);
      re[k] = a * gauss(); im[k] = a * gauss();
      re[n - k] = re[k]; im[n - k] = -im[k];
      lines++;
    }
    fft(re, im, 1);
    const buffer = ctx.createBuffer(1, n, ctx.sampleRate);
    const data = buffer.getChannelData(0);
    for (let k = 0; k < n; k++) data[k] = re[k] / n;
    return { buffer: buffer, rms: sigma * Math.sqrt(lines / (n / 2)) };
  }

  function setup(root) {
    const g = JSON.parse(root.dataset.grid);
    const m = decodeGrid(g);
    const q = (cls) => root.querySelector(cls);
    const freq = q(".pl-freq"), level = q(".pl-level"), noise = q(".pl-noise");
    const kind = q(".pl-noise-kind"), toneOn = q(".pl-tone-on");
    const svg = q("svg.pl-plot");
    const W = 520, H = 220, X0 = 44, Y0 = 8, X1 = W - 8, Y1 = H - 26;
    const fLo = 50, fHi = g.sample_rate / 2, dbLo = -20, dbHi = 105;
    const xOf = (f) => X0 + (X1 - X0) * (Math.log10(f) - Math.log10(fLo)) / (Math.log10(fHi) - Math.log10(fLo));
    const yOf = (db) => Y1 - (Y1 - Y0) * (Math.min(dbHi, Math.max(dbLo, db)) - dbLo) / (dbHi - dbLo);
    const el = (name, attrs) => {
      const e = document.createElementNS(SVG, name);
      Object.entries(attrs).forEach(([k, v]) => e.setAttribute(k, String(v)));
      svg.appendChild(e);
      return e;
    };
    [100, 1000, 10000].forEach((f) => {
      el("line", { x1: xOf(f), x2: xOf(f), y1: Y0, y2: Y1, class: "pl-grid" });
      el("text", { x: xOf(f), y: H - 10, "text-anchor": "middle" }).textContent = f >= 1000 ? f / 1000 + " kHz" : f + " Hz";
    });
    [0, 20, 40, 60, 80, 100].forEach((db) => {
      el("line", { x1: X0, x2: X1, y1: yOf(db), y2: yOf(db), class: "pl-grid" });
      el("text", { x: X0 - 4, y: yOf(db) + 4, "text-anchor": "end" }).textContent = String(db);
    });
    const path = (values) => Array.from(values).map((v, r) =>
      (r ? "L" : "M") + xOf(g.frequency[r]).toFixed(1) + "," + yOf(v).toFixed(1)).join(" ");
    const thrPath = el("path", { d: "", class: "pl-thr" });
    el("path", { d: path(g.quiet), class: "pl-quiet" });  // on top: visible where the tone does not mask
    const noisePath = el("path", { d: "", class: "pl-noise-line" });
    const toneLine = el("line", { class: "pl-tone-line" });

    let ctx = null, osc = null, toneGain = null, noiseGain = null, src = null, band = null;

    function state() {
      const f = Math.pow(10, parseFloat(freq.value));
      const zt = bark(f);
      let lo = 0, hi = fHi;
      if (kind.value === "band") {
        // one critical band: the lines within half a Bark of the tone
        lo = f; hi = f;
        while (bark(lo) > zt - 0.5 && lo > 1) lo *= 0.999;
        while (bark(hi) < zt + 0.5 && hi < fHi) hi *= 1.001;
      }
      return { f: f, tone: parseFloat(level.value), noise: parseFloat(noise.value), lo: lo, hi: Math.min(hi, fHi) };
    }

    function renderNoise(s) {
      if (!ctx) return;
      if (band && band.lo === s.lo && band.hi === s.hi) return;
      const made = noiseBuffer(ctx, g, s.lo, s.hi);
      const next = ctx.createBufferSource();
      next.buffer = made.buffer;
      next.loop = true;
      next.connect(noiseGain);
      next.start();
      if (src) src.stop();
      src = next;
      band = { lo: s.lo, hi: s.hi, rms: made.rms, buffer: made.buffer };
    }

    function update() {
      const s = state();
      const thr = threshold(g, m, s.f, s.tone);
      thrPath.setAttribute("d", path(thr));
      const lo = Math.max(s.lo, fLo), hi = s.hi;
      noisePath.setAttribute("d", "M" + xOf(lo).toFixed(1) + "," + yOf(s.noise).toFixed(1) + " L" +
        xOf(hi).toFixed(1) + "," + yOf(s.noise).toFixed(1));
      toneLine.setAttribute("x1", xOf(s.f)); toneLine.setAttribute("x2", xOf(s.f));
      toneLine.setAttribute("y1", Y1); toneLine.setAttribute("y2", yOf(s.tone));
      // the grid rows the noise covers (at least the row nearest the tone); the model's verdict per line
      let rows = g.frequency.map((f, r) => r).filter((r) => g.frequency[r] >= s.lo && g.frequency[r] <= s.hi);
      if (!rows.length) {
        rows = [g.frequency.reduce((best, f, r) => Math.abs(f - s.f) < Math.abs(g.frequency[best] - s.f) ? r : best, 0)];
      }
      const excess = Math.max(...rows.map((r) => s.noise - thr[r]));
      const nearest = g.frequency.reduce((best, f, r) => Math.abs(f - s.f) < Math.abs(g.frequency[best] - s.f) ? r : best, 0);
      root.dataset.thresholdAtTone = thr[nearest].toFixed(2);
      root.dataset.excess = excess.toFixed(2);
      root.dataset.verdict = excess < 0 ? "masked" : "audible";
      q(".pl-values").textContent = "tone " + s.f.toFixed(0) + " Hz at " + s.tone.toFixed(0) + " dB SPL; noise " +
        s.noise.toFixed(0) + " dB SPL per line" + (kind.value === "band" ? " from " + s.lo.toFixed(0) + " to " +
        s.hi.toFixed(0) + " Hz" : ", white");
      q(".pl-verdict").textContent = (excess < 0 ? "masked: " + (-excess).toFixed(1) + " dB under" :
        "audible: " + excess.toFixed(1) + " dB above") + " the tone's threshold on its loudest line (model 1)";
      if (ctx) {
        renderNoise(s);
        osc.frequency.value = s.f;
        toneGain.gain.value = toneOn.checked ? Math.pow(10, (s.tone - g.full_scale_sine_db) / 20) : 0;
        noiseGain.gain.value = Math.pow(10, s.noise / 20);
        const peak = (toneOn.checked ? Math.pow(10, (s.tone - g.full_scale_sine_db) / 20) : 0) +
          4 * band.rms * Math.pow(10, s.noise / 20);
        q(".pl-clip").textContent = peak > 1 ? "(tone and noise together exceed full scale: the output clips)" : "";
      }
    }

    function start() {
      if (!ctx) {
        const Ctx = window.AudioContext || window.webkitAudioContext;
        try {
          ctx = new Ctx({ sampleRate: g.sample_rate });
        } catch (err) {
          ctx = new Ctx();  // noise lines are laid out at the context's own rate
        }
        osc = ctx.createOscillator();
        toneGain = ctx.createGain();
        noiseGain = ctx.createGain();
        toneGain.gain.value = 0;
        noiseGain.gain.value = 0;
        osc.connect(toneGain).connect(ctx.destination);
        noiseGain.connect(ctx.destination);
        osc.start();
        root.plMasking = { ctx: ctx, osc: osc, toneGain: toneGain, noiseGain: noiseGain,
                           band: () => band, threshold: (f, db) => Array.from(threshold(g, m, f, db)) };
      }
      update();
      return ctx.resume().then(() => { root.dataset.playing = "1"; });
    }

    root.plMasking = { threshold: (f, db) => Array.from(threshold(g, m, f, db)) };
    [freq, level, noise, kind, toneOn].forEach((c) => c.addEventListener("input", update));
    kind.addEventListener("change", update);
    toneOn.addEventListener("change", update);
    q(".pl-play").addEventListener("click", start);
    q(".pl-stop").addEventListener("click", () => {
      if (ctx) ctx.suspend();
      root.dataset.playing = "0";
    });
    update();
  }

  function init() {
    document.querySelectorAll("[data-pl-masking]").forEach(setup);
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
