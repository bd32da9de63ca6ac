/* Keyboard shortcuts on every page (docs/ui.md). Loaded from base.html; no inline script.
 *
 *   /      focus the page's search box ([data-shortcut-search], else the first search input);
 *          on a page without one, go to "Find a patient"
 *   j / k  next / previous row of a list ([data-keyboard-list]): focus moves to the row's link
 *   Enter  opens the focused row's link (the browser's own behaviour on a focused link)
 *   ?      open the help dialog (#tandem-shortcuts)
 *
 * Keys typed into a field, or with Ctrl, Alt or Meta, are left alone. Rows are
 * [data-keyboard-row] elements inside the list, else its tbody rows, else its list items; a
 * row's link is its [data-row-link], else its first link. Rows are looked up on every key, so
 * lists swapped in by htmx work as they are.
 */
(function () {
  "use strict";

  function typing(target) {
    if (!target || !target.closest) return false;
    return Boolean(target.closest("input, textarea, select, [contenteditable=''], [contenteditable='true']"));
  }

  function rowsOf(list) {
    var rows = list.querySelectorAll("[data-keyboard-row]");
    if (!rows.length) rows = list.querySelectorAll("tbody > tr");
    if (!rows.length) rows = list.querySelectorAll("li");
    return Array.prototype.filter.call(rows, function (row) {
      return linkOf(row) !== null && row.offsetParent !== null;
    });
  }

  function linkOf(row) {
    return row.querySelector("[data-row-link]") || row.querySelector("a[href]");
  }

  function activeList() {
    var focused = document.activeElement;
    var list = focused && focused.closest ? focused.closest("[data-keyboard-list]") : null;
    return list || document.querySelector("[data-keyboard-list]");
  }

  function move(step) {
    var list = activeList();
    if (!list) return false;
    var rows = rowsOf(list);
    if (!rows.length) return false;
    var focused = document.activeElement;
    var index = rows.findIndex(function (row) { return row.contains(focused); });
    var next = index === -1 ? (step > 0 ? 0 : rows.length - 1) : index + step;
    next = Math.max(0, Math.min(rows.length - 1, next));
    var link = linkOf(rows[next]);
    link.focus();
    link.scrollIntoView({ block: "nearest" });
    return true;
  }

  function focusSearch() {
    var box = document.querySelector("[data-shortcut-search]") ||
      document.querySelector("main input[type=search]");
    if (box) {
      box.focus();
      if (box.select) box.select();
      return true;
    }
    var search = document.querySelector("a[href][data-shortcut-search-page]");
    if (search) {
      window.location.assign(search.getAttribute("href"));
      return true;
    }
    return false;
  }

  function openHelp() {
    var dialog = document.getElementById("tandem-shortcuts");
    if (!dialog || dialog.open || typeof dialog.showModal !== "function") return false;
    dialog.showModal();
    return true;
  }

  document.addEventListener("keydown", function (event) {
    if (event.defaultPrevented || event.ctrlKey || event.altKey || event.metaKey) return;
    if (typing(event.target)) return;
    var dialog = document.getElementById("tandem-shortcuts");
    if (dialog && dialog.open) return;
    var handled = false;
    if (event.key === "/") handled = focusSearch();
    else if (event.key === "j") handled = move(1);
    else if (event.key === "k") handled = move(-1);
    else if (event.key === "?") handled = openHelp();
    if (handled) event.preventDefault();
  });

  document.addEventListener("click", function (event) {
    var opener = event.target.closest ? event.target.closest("[data-shortcuts-open]") : null;
    if (opener) openHelp();
  });
})();
