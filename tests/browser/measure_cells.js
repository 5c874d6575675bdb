() => {
  const out = [];
  for (const cell of document.querySelectorAll('table.ranking th, table.ranking td')) {
    if (cell.getBoundingClientRect().width === 0) continue;
    const st = getComputedStyle(cell);
    const inner = cell.getBoundingClientRect().height - parseFloat(st.paddingTop) - parseFloat(st.paddingBottom)
      - parseFloat(st.borderTopWidth) - parseFloat(st.borderBottomWidth);
    out.push({text: cell.textContent.trim(), lines: Math.round(inner / parseFloat(st.lineHeight))});
  }
  return out;
}
