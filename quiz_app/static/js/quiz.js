// Quiz page: server-driven countdown, autosave through the JSON API, navigation.
// The page works as a plain form without this script; this adds comfort only.
(function () {
  "use strict";
  var bar = document.getElementById("timerbar");
  var form = document.getElementById("quiz-form");
  if (!bar || !form) { return; }
  var csrf = document.querySelector('meta[name="csrf-token"]').content;
  var attemptUrl = bar.dataset.api;
  var countdown = document.getElementById("countdown");
  var answeredCount = document.getElementById("answered-count");
  // The deadline as a local monotonic instant derived from the server's remaining_s.
  var deadline = performance.now() + Number(bar.dataset.remaining) * 1000;
  var submitting = false;

  function pad(n) { return n < 10 ? "0" + n : String(n); }

  function tick() {
    var left = Math.max(0, Math.round((deadline - performance.now()) / 1000));
    countdown.textContent = Math.floor(left / 60) + ":" + pad(left % 60);
    bar.classList.toggle("low", left <= 60);
    if (left <= 0 && !submitting) {
      submitting = true;
      // Time is up: hand in what the server holds (the server decides).
      form.submit();
    }
  }

  function resync() {
    fetch(attemptUrl, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (data) {
        if (!data) { return; }
        if (data.status !== "open") { window.location.reload(); return; }
        deadline = performance.now() + data.remaining_s * 1000;
      })
      .catch(function () { /* offline: keep the local countdown */ });
  }

  function chosen(fieldset) {
    var out = [];
    fieldset.querySelectorAll("input:checked").forEach(function (i) { out.push(i.value); });
    return out;
  }

  function updateProgress() {
    var done = 0;
    form.querySelectorAll("fieldset.question").forEach(function (fs) {
      var has = chosen(fs).length > 0;
      if (has) { done += 1; }
      var jump = form.querySelector('[data-jump="' + fs.dataset.position + '"]');
      if (jump) { jump.classList.toggle("done", has); }
    });
    answeredCount.textContent = done;
    return done;
  }

  // Saves are serialised per question: while one is in flight, further taps
  // only replace the wanted choices, which go out with the version the first
  // save returns. So quick taps never race each other into a 409, and the
  // last tap is what the server holds; a real conflict (another tab) still
  // gets its 409 and is shown.
  var inFlight = {};  // position -> true while its save is on the way
  var wanted = {};    // position -> latest choices tapped meanwhile, or undefined

  function save(fieldset) {
    var position = fieldset.dataset.position;
    var state = fieldset.querySelector(".save-state");
    state.classList.remove("failed");
    state.textContent = "正在保存…";
    if (inFlight[position]) {
      wanted[position] = chosen(fieldset);
      return;
    }
    send(fieldset, position, state, chosen(fieldset));
  }

  function send(fieldset, position, state, choices) {
    inFlight[position] = true;
    wanted[position] = undefined;
    fetch(attemptUrl + "/answers/" + position, {
      method: "PUT",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrf, "Accept": "application/json" },
      body: JSON.stringify({ choices: choices, version: Number(fieldset.dataset.version) })
    }).then(function (r) {
      return r.json().then(function (data) { return { ok: r.ok, status: r.status, data: data }; });
    }).then(function (res) {
      inFlight[position] = false;
      var next = wanted[position];
      wanted[position] = undefined;
      if (res.ok) {
        fieldset.dataset.version = res.data.version;
        deadline = performance.now() + res.data.remaining_s * 1000;
        if (next !== undefined) { send(fieldset, position, state, next); return; }
        state.textContent = "已保存";
      } else {
        // Refused (another tab changed it, or time is up): show why, don't retry.
        state.classList.add("failed");
        state.textContent = (res.data.error && res.data.error.message) || "保存失败，请重试";
        if (res.status === 409) { resync(); }
      }
    }).catch(function () {
      inFlight[position] = false;
      wanted[position] = undefined;
      state.classList.add("failed");
      state.textContent = "网络不畅，答案未保存，请稍后再选一次或点击“保存答案”";
    });
  }

  form.addEventListener("change", function (ev) {
    var fieldset = ev.target.closest("fieldset.question");
    if (fieldset) { updateProgress(); save(fieldset); }
  });

  document.getElementById("submit-button").addEventListener("click", function (ev) {
    var total = form.querySelectorAll("fieldset.question").length;
    var missing = total - updateProgress();
    var msg = missing > 0 ? "还有 " + missing + " 题未作答，确定交卷吗？" : "确定交卷吗？交卷后不能修改。";
    if (!window.confirm(msg)) { ev.preventDefault(); return; }
    submitting = true;
  });

  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "visible") { resync(); }
  });
  setInterval(tick, 500);
  setInterval(resync, 60000);
  tick();
})();
