// Option shares of each question revision as an ECharts bar chart. The data
// come from the page's <script type="application/json" id="item-chart-data">;
// the table beside each chart carries the same figures (print, screen readers).
(function () {
  "use strict";
  var source = document.getElementById("item-chart-data");
  if (!source || typeof echarts === "undefined") return;
  var KEYED = "#2e7d32", OTHER = "#90a4ae", KEYED_TOP = "#a5d6a7", OTHER_TOP = "#cfd8dc";
  JSON.parse(source.textContent).forEach(function (item) {
    var el = document.getElementById(item.el);
    if (!el) return;
    var names = item.letters.map(function (letter, i) {
      var label = item.labels ? letter + " " + item.labels[i] : letter;
      return item.key.indexOf(letter) >= 0 ? label + " ✓" : label;
    });
    function bars(values, keyed, other) {
      return values.map(function (v, i) {
        var isKey = item.key.indexOf(item.letters[i]) >= 0;
        return { value: v, itemStyle: { color: isKey ? keyed : other } };
      });
    }
    var chart = echarts.init(el, null, { renderer: "canvas" });
    chart.setOption({
      animation: false,
      grid: { left: 40, right: 10, top: 30, bottom: 30 },
      legend: { data: ["全部作答", "高分组"], top: 0 },
      tooltip: { trigger: "axis", valueFormatter: function (v) { return v == null ? "—" : v + "%"; } },
      xAxis: { type: "category", data: names },
      yAxis: { type: "value", min: 0, max: 100, axisLabel: { formatter: "{value}%" } },
      series: [
        { name: "全部作答", type: "bar", data: bars(item.all, KEYED, OTHER),
          itemStyle: { color: OTHER }, label: { show: true, position: "top", formatter: "{c}%" } },
        { name: "高分组", type: "bar", data: bars(item.top, KEYED_TOP, OTHER_TOP),
          itemStyle: { color: OTHER_TOP } }
      ]
    });
    window.addEventListener("resize", function () { chart.resize(); });
  });
})();
