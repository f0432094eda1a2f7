// Keyboard shortcuts for the review page. Queue: j/k move, Enter opens. Flag: c confirms,
// d dismisses (a reason is required: the field is focused first when empty), Escape goes back.
(function () {
  "use strict";
  function typing(e) {
    var t = e.target.tagName;
    return t === "INPUT" || t === "TEXTAREA" || t === "SELECT";
  }
  var rows = Array.prototype.slice.call(document.querySelectorAll("tr.flag"));
  var sel = rows.length ? 0 : -1;
  function select(i) {
    if (!rows.length) return;
    sel = Math.max(0, Math.min(rows.length - 1, i));
    rows.forEach(function (r, j) { r.classList.toggle("selected", j === sel); });
    rows[sel].scrollIntoView({ block: "nearest" });
  }
  rows.forEach(function (r, i) {
    r.addEventListener("click", function (e) {
      if (e.target.tagName !== "A") window.location = r.dataset.href;
    });
  });
  if (rows.length) select(0);
  function decide(value) {
    var form = document.getElementById("decide");
    if (!form) return;
    var reason = document.getElementById("reason");
    if (!reason.value.trim()) { reason.focus(); reason.dataset.pending = value; return; }
    form.querySelector('button[value="' + value + '"]').click();
  }
  var reason = document.getElementById("reason");
  if (reason) {
    reason.addEventListener("keydown", function (e) {
      if (e.key === "Enter" && reason.dataset.pending) { e.preventDefault(); decide(reason.dataset.pending); }
    });
  }
  document.addEventListener("keydown", function (e) {
    if (typing(e) || e.ctrlKey || e.metaKey || e.altKey) return;
    if (e.key === "j") select(sel + 1);
    else if (e.key === "k") select(sel - 1);
    else if (e.key === "Enter" && sel >= 0) window.location = rows[sel].dataset.href;
    else if (e.key === "c") { e.preventDefault(); decide("confirm"); }
    else if (e.key === "d") { e.preventDefault(); decide("dismiss"); }
    else if (e.key === "Escape" && document.getElementById("decide")) window.location = "/ui";
  });
})();
