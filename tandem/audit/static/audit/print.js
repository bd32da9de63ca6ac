// "Print" buttons (data-print): the CSP forbids inline handlers, so they are wired here.
document.addEventListener("click", (event) => {
  const button = event.target.closest("[data-print]");
  if (button) {
    window.print();
  }
});
