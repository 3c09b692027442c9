// The grid page's one script. A square links to its run, which is what it opens without script; pointed at,
// focused or clicked, its link gains its cell (/runs/ID?cell=NAME), so that it opens that cell's attempts and
// its log on the run page, in the one request the click makes. The cell is not written into each square's
// href on the server: at 1,000 runs × 50 cells that would be 50,000 copies of the names in the page. The
// row's first cell holds the name in its title (the name, escaped, as the server wrote it).
(() => {
  const table = document.querySelector("table.grid");
  if (!table) return;
  const aim = (event) => {
    const square = event.target instanceof Element ? event.target.closest("a.sq") : null;
    const row = square?.closest("tr");
    const name = row?.cells[0]?.getAttribute("title");
    if (!square || !name) return;
    const run = square.getAttribute("href").split("?")[0];
    square.setAttribute("href", `${run}?cell=${encodeURIComponent(name)}`);
  };
  // Before the click, so that the status bar, a middle click and "open in new tab" get the cell too.
  for (const type of ["pointerover", "focusin", "click"]) table.addEventListener(type, aim);
})();
