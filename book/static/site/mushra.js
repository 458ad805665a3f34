// percloss MUSHRA panels (ITU-R BS.1534-3): per trial an open reference and, in an order drawn at random
// for each trial, the systems under test, the hidden reference and the low anchor, each rated on a 0-100
// scale with five labelled ranges. Versions switch at the playback position (listening.js's switcher), a
// region can be looped, playback is loudness-matched (gains computed when the book was built), and the
// ratings export as JSON or CSV with the page's build id. Markup: percloss.notebook.mushra_panel_html.
(function () {
  "use strict";

  function shuffled(list) {
    const a = list.slice();
    for (let i = a.length - 1; i > 0; i--) {
      const j = Math.floor(Math.random() * (i + 1));
      [a[i], a[j]] = [a[j], a[i]];
    }
    return a;
  }

  function download(name, text, type) {
    const url = URL.createObjectURL(new Blob([text], { type: type }));
    const link = document.createElement("a");
    link.href = url;
    link.download = name;
    document.body.appendChild(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 1000);
  }

  function setup(root) {
    const items = JSON.parse(root.dataset.items);
    const systems = JSON.parse(root.dataset.systems);
    const reference = root.dataset.reference;
    const sources = Array.from(root.querySelectorAll("audio[data-system]"));
    const now = root.querySelector(".pl-now");
    const body = root.querySelector(".pl-mushra-grid tbody");
    const loop = root.querySelector(".pl-loop");
    const from = root.querySelector(".pl-from");
    const to = root.querySelector(".pl-to");
    const listener = root.querySelector(".pl-listener");
    const show = (text) => { if (now) now.textContent = text; };
    const find = (item, system) => sources.find((a) => a.dataset.item === item && a.dataset.system === system);
    const switcher = window.PerclossListening.makeSwitcher(root, (a) => parseFloat(a.dataset.gain || "1"), show);

    // the trials: every item once, in random order; in each, the rated systems in random order
    const trials = shuffled(items).map((item) => ({ item: item, order: shuffled(systems), scores: {} }));
    let t = 0;
    root.plMushra = { trials: trials, switcher: switcher };

    function region() {
      return [parseFloat(from.value), parseFloat(to.value)];
    }
    function showRegion() {
      const [a, b] = region();
      root.querySelector(".pl-from-v").textContent = a.toFixed(1) + " s";
      root.querySelector(".pl-to-v").textContent = b.toFixed(1) + " s";
    }
    function keepOrdered(moved) {
      const gap = 0.2;
      if (parseFloat(to.value) - parseFloat(from.value) < gap) {
        if (moved === from) from.value = String(Math.max(0, parseFloat(to.value) - gap));
        else to.value = String(Math.min(parseFloat(to.max), parseFloat(from.value) + gap));
      }
      showRegion();
    }
    from.addEventListener("input", () => keepOrdered(from));
    to.addEventListener("input", () => keepOrdered(to));
    showRegion();

    // loop the region: while playing, a position past its end (or before its start) goes back to the start
    setInterval(() => {
      const a = switcher.current;
      if (!loop.checked || !a || a.paused) return;
      const [lo, hi] = region();
      if (a.currentTime >= hi || a.currentTime < lo - 0.05) a.currentTime = lo;
    }, 20);
    sources.forEach((a) => a.addEventListener("ended", () => {
      if (loop.checked && a === switcher.current) {
        a.currentTime = region()[0];
        a.play().catch(() => {});
      } else {
        root.dataset.playing = "0";
      }
    }));

    function play(system, label) {
      const trial = trials[t];
      const next = find(trial.item, system);
      const start = switcher.current && switcher.current.dataset.item === trial.item ? null : region()[0];
      if (start !== null && loop.checked && next) next.currentTime = start;
      return switcher.switchTo(next, true, label);
    }

    function progress() {
      const trial = trials[t];
      const rated = Object.keys(trial.scores).length;
      const done = trials.filter((x) => Object.keys(x.scores).length === systems.length).length;
      root.querySelector(".pl-trial").textContent =
        "trial " + (t + 1) + " of " + trials.length + " (" + trial.item + ")";
      root.querySelector(".pl-progress").textContent =
        "rated " + rated + " of " + systems.length + " here; trials complete: " + done + " of " + trials.length;
      root.dataset.trial = String(t + 1);
    }

    function render() {
      body.textContent = "";
      const trial = trials[t];
      trial.order.forEach((system, position) => {
        const tr = document.createElement("tr");
        tr.dataset.position = String(position);
        const label = String.fromCharCode(65 + position);
        const button = document.createElement("button");
        button.type = "button";
        button.className = "pl-stim";
        button.textContent = label;
        button.addEventListener("click", () => play(system, label));
        const slider = document.createElement("input");
        slider.type = "range";
        slider.min = "0";
        slider.max = "100";
        slider.step = "1";
        slider.className = "pl-score";
        slider.setAttribute("aria-label", "score of " + label);
        slider.value = String(system in trial.scores ? trial.scores[system] : 50);
        const value = document.createElement("span");
        value.className = "pl-value";
        value.textContent = system in trial.scores ? String(trial.scores[system]) : "–";
        const rate = () => {
          trial.scores[system] = parseInt(slider.value, 10);
          value.textContent = slider.value;
          tr.classList.add("pl-rated");
          progress();
        };
        slider.addEventListener("input", rate);
        slider.addEventListener("change", rate);
        if (system in trial.scores) tr.classList.add("pl-rated");
        [button, slider, value].forEach((el) => {
          const td = document.createElement("td");
          td.appendChild(el);
          tr.appendChild(td);
        });
        body.appendChild(tr);
      });
      progress();
    }

    function goTo(k) {
      switcher.stop();
      switcher.current = null;
      t = (k + trials.length) % trials.length;
      render();
      show("");
    }
    root.querySelector(".pl-prev").addEventListener("click", () => goTo(t - 1));
    root.querySelector(".pl-next").addEventListener("click", () => goTo(t + 1));
    root.querySelector(".pl-ref").addEventListener("click", () => play(reference, "reference"));
    root.querySelector(".pl-stop").addEventListener("click", switcher.stop);

    function ratings() {
      if (!listener.value.trim()) {
        listener.value = "anonymous-" + Math.random().toString(16).slice(2, 8);
      }
      const rows = [];
      trials.forEach((trial, k) => trial.order.forEach((system, position) => {
        if (system in trial.scores) {
          rows.push({ trial: k + 1, item: trial.item, system: system, score: trial.scores[system],
                      position: position + 1 });
        }
      }));
      return rows;
    }
    function fileName(ext) {
      const who = listener.value.trim().replace(/[^A-Za-z0-9_-]+/g, "_");
      return "mushra-" + root.dataset.set + "-" + root.dataset.buildId + "-" + who + "." + ext;
    }
    root.querySelector(".pl-export-json").addEventListener("click", () => {
      const rows = ratings();
      const record = { format: "percloss-mushra/1", build_id: root.dataset.buildId, set: root.dataset.set,
                       listener: listener.value.trim(), items: items, systems: systems,
                       hidden_reference: reference, exported: new Date().toISOString(), ratings: rows };
      download(fileName("json"), JSON.stringify(record, null, 1) + "\n", "application/json");
    });
    root.querySelector(".pl-export-csv").addEventListener("click", () => {
      const rows = ratings();
      const quote = (v) => '"' + String(v).replace(/"/g, '""') + '"';
      const lines = ["build_id,set,listener,trial,item,system,score,position"].concat(rows.map((r) =>
        [root.dataset.buildId, root.dataset.set, listener.value.trim(), r.trial, r.item, r.system, r.score,
         r.position].map(quote).join(",")));
      download(fileName("csv"), lines.join("\n") + "\n", "text/csv");
    });
    render();
  }

  function init() {
    if (!window.PerclossListening) return;  // listening.js provides the switching
    document.querySelectorAll("[data-pl-mushra]").forEach(setup);
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
