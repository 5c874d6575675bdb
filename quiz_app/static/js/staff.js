// Staff dashboards: draws the charts from the page's JSON block (no inline
// script under the CSP), sorts tables by a header click, and reloads the page
// every minute while the contest is open and the tab is visible.
(function () {
  "use strict";

  var block = document.getElementById("stats-data");
  var data = block ? JSON.parse(block.textContent) : null;
  var charts = [];

  function draw(id, option) {
    var el = document.getElementById(id);
    if (!el || typeof echarts === "undefined") return;
    var chart = echarts.init(el, null, { renderer: "svg" });
    option.animation = false;
    chart.setOption(option);
    charts.push(chart);
  }

  var grid = { left: 56, right: 56, top: 40, bottom: 60, containLabel: true };
  var blue = "#1565c0", red = "#c62828", green = "#2e7d32";

  if (data && data.regions) {
    draw("chart-regions", {
      color: [blue, red],
      tooltip: { trigger: "axis" },
      legend: { data: ["参赛人数", "每万人参赛"] },
      grid: grid,
      xAxis: { type: "category", data: data.regions.map(function (r) { return r.name; }),
               axisLabel: { interval: 0, rotate: 40 } },
      yAxis: [{ type: "value", name: "人" }, { type: "value", name: "每万人" }],
      series: [
        { name: "参赛人数", type: "bar", data: data.regions.map(function (r) { return r.participants; }) },
        { name: "每万人参赛", type: "bar", yAxisIndex: 1,
          data: data.regions.map(function (r) { return r.per_10k; }) }
      ]
    });
  }
  if (data && data.daily) {
    draw("chart-daily", {
      color: [blue, green],
      tooltip: { trigger: "axis" },
      legend: { data: ["参赛人数", "答题次数"] },
      grid: grid,
      xAxis: { type: "category", data: data.daily.map(function (d) { return d.date.slice(5); }) },
      yAxis: { type: "value" },
      series: [
        { name: "参赛人数", type: "line", data: data.daily.map(function (d) { return d.participants; }) },
        { name: "答题次数", type: "line", data: data.daily.map(function (d) { return d.attempts; }) }
      ]
    });
  }
  if (data && data.scores) {
    draw("chart-scores", {
      color: [blue],
      tooltip: { trigger: "axis" },
      grid: grid,
      xAxis: { type: "category", name: "分", data: data.scores.map(function (s) { return s.score; }) },
      yAxis: { type: "value", name: "人" },
      series: [{ name: "人数", type: "bar", barCategoryGap: "2%",
                 data: data.scores.map(function (s) { return s.citizens; }) }]
    });
  }
  if (data && data.categories) {
    draw("chart-categories", {
      color: [blue],
      tooltip: { trigger: "axis", valueFormatter: function (v) { return v + "%"; } },
      grid: { left: 8, right: 40, top: 16, bottom: 16, containLabel: true },
      xAxis: { type: "value", max: 100, axisLabel: { formatter: "{value}%" } },
      yAxis: { type: "category", inverse: true,
               data: data.categories.map(function (c) { return c.name; }) },
      series: [{ name: "正确率", type: "bar", data: data.categories.map(function (c) {
        return c.correct_rate === null ? null : Math.round(c.correct_rate * 1000) / 10; }) }]
    });
  }
  if (data && data.heatmap) {
    var regions = [], cats = [], seenR = {}, seenC = {};
    data.heatmap.forEach(function (h) {
      if (!seenR[h.region]) { seenR[h.region] = true; regions.push(h.region_name); }
      if (!seenC[h.category]) { seenC[h.category] = true; cats.push(h.name); }
    });
    var cells = data.heatmap.map(function (h) {
      return [cats.indexOf(h.name), regions.indexOf(h.region_name),
              h.correct_rate === null ? "-" : Math.round(h.correct_rate * 1000) / 10];
    });
    var heatEl = document.getElementById("chart-heatmap");
    if (heatEl) heatEl.style.height = (170 + Math.min(80, Math.max(28, 420 / regions.length)) * regions.length) + "px";
    draw("chart-heatmap", {
      tooltip: { position: "top", formatter: function (p) {
        return regions[p.value[1]] + " · " + cats[p.value[0]] + "：" + p.value[2] + "%"; } },
      grid: { left: 8, right: 16, top: 16, bottom: 90, containLabel: true },
      xAxis: { type: "category", data: cats, axisLabel: { interval: 0, rotate: 35 }, splitArea: { show: true } },
      yAxis: { type: "category", data: regions, inverse: true, splitArea: { show: true } },
      visualMap: { min: 0, max: 100, calculable: true, orient: "horizontal", left: "center",
                   bottom: 0, text: ["100%", "0%"],
                   inRange: { color: ["#b2182b", "#ef8a62", "#fddbc7", "#d1e5f0", "#67a9cf", "#2166ac"] } },
      series: [{ name: "正确率", type: "heatmap", data: cells,
                 label: { show: true, fontSize: 11, color: "#111", textBorderColor: "#fff", textBorderWidth: 2 } }]
    });
  }
  window.addEventListener("resize", function () { charts.forEach(function (c) { c.resize(); }); });
  window.addEventListener("beforeprint", function () { charts.forEach(function (c) { c.resize(); }); });

  // Sortable tables: a button in every header cell; numbers sort as numbers.
  function cellValue(cell) {
    var raw = cell.getAttribute("data-value");
    if (raw === null) raw = cell.textContent.trim();
    var n = parseFloat(raw.replace(/[%,]/g, ""));
    return isNaN(n) ? (raw === "—" || raw === "None" ? -Infinity : raw) : n;
  }
  document.querySelectorAll("table[data-sortable]").forEach(function (table) {
    var heads = table.tHead ? table.tHead.rows[0].cells : [];
    Array.prototype.forEach.call(heads, function (th, col) {
      var button = document.createElement("button");
      button.type = "button";
      button.className = "sort";
      button.textContent = th.textContent;
      th.textContent = "";
      th.appendChild(button);
      button.addEventListener("click", function () {
        var dir = th.getAttribute("aria-sort") === "descending" ? "ascending" : "descending";
        Array.prototype.forEach.call(heads, function (h) { h.removeAttribute("aria-sort"); });
        th.setAttribute("aria-sort", dir);
        var body = table.tBodies[0];
        var rows = Array.prototype.slice.call(body.rows);
        rows.sort(function (a, b) {
          var x = cellValue(a.cells[col]), y = cellValue(b.cells[col]);
          var cmp = typeof x === "number" && typeof y === "number" ? x - y : String(x).localeCompare(String(y), "zh-CN");
          return dir === "ascending" ? cmp : -cmp;
        });
        rows.forEach(function (r) { body.appendChild(r); });
      });
    });
  });

  // Auto refresh while the contest is open (only when someone is looking).
  if (data && data.refresh) {
    setInterval(function () {
      if (document.visibilityState === "visible") window.location.reload();
    }, 60000);
  }
})();
