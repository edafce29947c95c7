// The web app's one script (a file, not inline: the Content-Security-Policy allows 'self' only).
// Everything works without it; with it: a month picker shows the chosen month at once, tables
// marked data-sortable sort by a column, a search box and a status list filter the clinic table,
// an irreversible action asks first, and components get their colour swatch.
document.querySelectorAll("select[data-submit-on-change]").forEach(function (select) {
  select.addEventListener("change", function () { select.form.submit(); });
});

document.querySelectorAll("[data-confirm]").forEach(function (button) {
  button.addEventListener("click", function (event) {
    if (!window.confirm(button.getAttribute("data-confirm"))) { event.preventDefault(); }
  });
});

// Colours are set from the data attribute (style attributes are refused by the CSP; the CSSOM is not).
document.querySelectorAll(".swatch[data-colour]").forEach(function (el) {
  el.style.backgroundColor = el.getAttribute("data-colour");
});

function cellValue(row, index, kind) {
  var cell = row.cells[index];
  if (!cell) { return kind === "num" ? -Infinity : ""; }
  var raw = cell.hasAttribute("data-value") ? cell.getAttribute("data-value") : cell.textContent.trim();
  if (kind === "num") { return raw === "" ? -Infinity : Number(raw); }
  return raw.toLowerCase();
}

document.querySelectorAll("table[data-sortable]").forEach(function (table) {
  var body = table.tBodies[0];
  Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th, index) {
    var kind = th.getAttribute("data-sort");
    if (!kind) { return; }
    var button = document.createElement("button");
    button.type = "button";
    button.className = "sort";
    button.textContent = th.textContent;
    th.textContent = "";
    th.appendChild(button);
    button.addEventListener("click", function () {
      var ascending = th.getAttribute("aria-sort") !== "ascending";
      Array.prototype.forEach.call(table.tHead.rows[0].cells, function (other) { other.removeAttribute("aria-sort"); });
      th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
      var rows = Array.prototype.slice.call(body.rows);
      rows.sort(function (a, b) {
        var x = cellValue(a, index, kind), y = cellValue(b, index, kind);
        var order = x < y ? -1 : x > y ? 1 : 0;
        return ascending ? order : -order;
      });
      rows.forEach(function (row) { body.appendChild(row); });
    });
  });
});

function applyFilters(tableId) {
  var table = document.getElementById(tableId);
  if (!table) { return; }
  var text = document.querySelector('[data-filter-table="' + tableId + '"]');
  var status = document.querySelector('[data-filter-status="' + tableId + '"]');
  var needle = text ? text.value.trim().toLowerCase() : "";
  var wanted = status ? status.value : "";
  var shown = 0;
  Array.prototype.forEach.call(table.tBodies[0].rows, function (row) {
    var match = (!needle || row.textContent.toLowerCase().indexOf(needle) >= 0) &&
                (!wanted || row.getAttribute("data-status") === wanted);
    row.hidden = !match;
    if (match) { shown += 1; }
  });
  var count = document.getElementById("antal-" + tableId);
  if (count) { count.textContent = shown + " av " + table.tBodies[0].rows.length + " mottagningar visas"; }
}

document.querySelectorAll("[data-filter-table], [data-filter-status]").forEach(function (input) {
  var id = input.getAttribute("data-filter-table") || input.getAttribute("data-filter-status");
  input.addEventListener("input", function () { applyFilters(id); });
  input.addEventListener("change", function () { applyFilters(id); });
  applyFilters(id);
});
