() => {
  const px = (el) => parseFloat(getComputedStyle(el).fontSize);
  const visible = (el) => {
    const r = el.getBoundingClientRect();
    const st = getComputedStyle(el);
    return r.width > 0 && r.height > 0 && st.visibility !== 'hidden';
  };
  let smallest = 1e9, where = '';
  for (const el of document.querySelectorAll('p, li, td, th, label, dd, dt, legend, h1, h2, a, button')) {
    if (!visible(el) || !el.textContent.trim()) continue;
    if (px(el) < smallest) { smallest = px(el); where = el.tagName + ' ' + el.textContent.trim().slice(0, 20); }
  }
  const small = [];
  for (const el of document.querySelectorAll('a, button, input:not([type=hidden]), select, textarea')) {
    if (!visible(el)) continue;
    let h = el.getBoundingClientRect().height;
    if (el.type === 'checkbox' || el.type === 'radio') {
      const label = el.closest('label') || (el.id && document.querySelector('label[for="' + el.id + '"]'));
      if (label) h = Math.max(h, label.getBoundingClientRect().height);
    }
    if (h < 43.5) small.push(el.tagName + ' "' + (el.textContent.trim() || el.name || el.id).slice(0, 16) + '" ' + h.toFixed(1));
  }
  return {root: px(document.documentElement), body: px(document.body), smallest, where, small,
          overflow: document.documentElement.scrollWidth - window.innerWidth};
}
