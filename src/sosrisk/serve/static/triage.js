// sosrisk triage: keyboard shortcuts for the common path. No dependencies, nothing loaded from elsewhere.
(function () {
  "use strict";
  function typing(target) {
    return target && (target.tagName === "TEXTAREA" || target.tagName === "INPUT" || target.tagName === "SELECT");
  }
  function submit(form) {
    if (!form) return;
    if (typeof form.requestSubmit === "function") form.requestSubmit(); else form.submit();
  }
  var actionKeys = { c: "contacted", e: "escalated", a: "no_action", f: "false_alarm" };
  document.addEventListener("keydown", function (event) {
    var decision = document.getElementById("decision-form");
    if (decision && event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      submit(decision);
      return;
    }
    if (event.key === "Escape" && typing(event.target)) { event.target.blur(); return; }
    if (typing(event.target) || event.ctrlKey || event.metaKey || event.altKey) return;
    var key = event.key.toLowerCase();
    if (!decision) {
      if (key === "n") { event.preventDefault(); submit(document.getElementById("next-form")); }
      return;
    }
    var level = document.getElementById("level");
    if (/^[0-9]$/.test(key)) { level.value = key; event.preventDefault(); return; }
    if (key === "t") { level.value = "10"; event.preventDefault(); return; }
    if (actionKeys[key]) {
      document.getElementById("action-" + actionKeys[key]).checked = true;
      event.preventDefault();
      return;
    }
    if (key === "h") {
      var flag = document.getElementById("high-risk");
      flag.value = flag.value === "1" ? "0" : "1";
      event.preventDefault();
      return;
    }
    if (key === "/") { event.preventDefault(); document.getElementById("note").focus(); return; }
    if (key === "escape") { submit(document.getElementById("release-form")); }
  });
})();
