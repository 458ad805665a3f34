// percloss listening panels: switch between precomputed versions of a sound without losing the
// playback position, with loudness matching, and an ABX test whose answers stay in the page.
// Markup: percloss.notebook.listening_panel_html. No dependencies, nothing loaded from the network.
(function () {
  "use strict";

  // One sounding source at a time. `switchTo(next)` hands playback to `next`: at the previous source's
  // position when both hold the same item, playing if the previous one was. `gainOf(audio)` is the
  // playback gain (volume, at most 1). Also used by the MUSHRA panels (mushra.js).
  function makeSwitcher(root, gainOf, show) {
    const state = { current: null };
    state.switchTo = function (next, startPlaying, label) {
      if (!next) return Promise.resolve();
      const prev = state.current;
      let position = 0;
      let playing = false;
      if (prev) {
        position = prev.currentTime;
        playing = !prev.paused;
        if (prev !== next) prev.pause();
      }
      state.current = next;
      next.volume = Math.min(1, gainOf(next));
      if (prev && prev !== next && prev.dataset.item === next.dataset.item) {
        next.currentTime = position;
      }
      root.dataset.current = label || next.dataset.system;
      show(label || next.dataset.system);
      if (playing || startPlaying) {
        return next.play().then(
          () => { root.dataset.playing = "1"; },
          (err) => { root.dataset.playing = "0"; show("could not play: " + err.message); });
      }
      return Promise.resolve();
    };
    state.stop = function () {
      if (state.current) { state.current.pause(); state.current.currentTime = 0; }
      root.dataset.playing = "0";
    };
    return state;
  }
  window.PerclossListening = { makeSwitcher: makeSwitcher };

  function setup(root) {
    const sources = Array.from(root.querySelectorAll("audio[data-system]"));
    const itemSelect = root.querySelector(".pl-item");
    const radios = Array.from(root.querySelectorAll("input.pl-system"));
    const match = root.querySelector(".pl-match");
    const now = root.querySelector(".pl-now");

    const find = (item, system) =>
      sources.find((a) => a.dataset.item === item && a.dataset.system === system);
    const gain = (a) => (match && match.checked ? parseFloat(a.dataset.gain || "1") : 1);
    const chosen = () => (radios.find((r) => r.checked) || radios[0]).value;

    function show(text) {
      if (now) now.textContent = text;
    }
    const switcher = makeSwitcher(root, gain, show);
    const switchTo = switcher.switchTo;

    radios.forEach((r) => r.addEventListener("change", () => switchTo(find(itemSelect.value, r.value), false)));
    itemSelect.addEventListener("change", () => {
      const current = switcher.current;
      if (current) { current.pause(); current.currentTime = 0; }
      switcher.current = null;
      switchTo(find(itemSelect.value, chosen()), false);
    });
    if (match) {
      match.addEventListener("change", () => {
        if (switcher.current) switcher.current.volume = Math.min(1, gain(switcher.current));
      });
    }
    root.querySelector(".pl-play").addEventListener("click", () => {
      const current = switcher.current;
      switchTo(current && current.dataset.item === itemSelect.value ? current : find(itemSelect.value, chosen()), true);
    });
    root.querySelector(".pl-stop").addEventListener("click", switcher.stop);
    sources.forEach((a) => a.addEventListener("ended", () => { root.dataset.playing = "0"; }));
    switchTo(find(itemSelect.value, chosen()), false);

    const abx = root.querySelector(".pl-abx");
    if (!abx) return;
    const selA = abx.querySelector(".pl-a");
    const selB = abx.querySelector(".pl-b");
    const score = abx.querySelector(".pl-score");
    const body = abx.querySelector(".pl-log tbody");
    const log = [];
    let trial = null;

    function newTrial() {
      trial = { n: log.length + 1, item: itemSelect.value, A: selA.value, B: selB.value,
                X: Math.random() < 0.5 ? "A" : "B" };
      abx.dataset.trial = String(trial.n);
      show("trial " + trial.n + ": listen to A, B and X, then answer");
    }
    abx.querySelector(".pl-new").addEventListener("click", newTrial);
    abx.querySelectorAll("button[data-play]").forEach((button) => button.addEventListener("click", () => {
      if (!trial) newTrial();
      const which = button.dataset.play;
      const system = which === "X" ? trial[trial.X] : trial[which];
      switchTo(find(trial.item, system), true, which);
    }));
    abx.querySelectorAll("button[data-answer]").forEach((button) => button.addEventListener("click", () => {
      if (!trial) return;
      const answer = button.dataset.answer;
      const row = { trial: trial.n, item: trial.item, A: trial.A, B: trial.B, X: trial.X, answer: answer,
                    correct: answer === trial.X };
      log.push(row);
      const right = log.filter((r) => r.correct).length;
      score.textContent = right + "/" + log.length;
      const tr = document.createElement("tr");
      [row.trial, row.item, row.A, row.B, row.answer, row.correct ? "right" : "wrong"].forEach((v) => {
        const td = document.createElement("td");
        td.textContent = String(v);
        tr.appendChild(td);
      });
      body.appendChild(tr);
      if (switcher.current) switcher.current.pause();
      newTrial();
    }));
    abx.querySelector(".pl-export").addEventListener("click", () => {
      const quote = (v) => '"' + String(v).replace(/"/g, '""') + '"';
      const lines = ["trial,item,A,B,X,answer,correct"].concat(
        log.map((r) => [r.trial, r.item, r.A, r.B, r.X, r.answer, r.correct].map(quote).join(",")));
      const url = URL.createObjectURL(new Blob([lines.join("\n") + "\n"], { type: "text/csv" }));
      const link = document.createElement("a");
      link.href = url;
      link.download = (root.dataset.name || "abx") + "-answers.csv";
      document.body.appendChild(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(url), 1000);
    });
  }

  function init() {
    document.querySelectorAll("[data-pl-listen]").forEach(setup);
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
