// The web app's one script (a file, not inline: the Content-Security-Policy allows 'self' only):
// a month picker shows the chosen month at once.
document.querySelectorAll("select[data-submit-on-change]").forEach(function (select) {
  select.addEventListener("change", function () { select.form.submit(); });
});
