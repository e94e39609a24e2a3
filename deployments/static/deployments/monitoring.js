/* The monitoring page's charts (uPlot, served by the app). Data: #qiro-charts (JSON). */
(function () {
  "use strict";
  var source = document.getElementById("qiro-charts");
  if (!source || typeof uPlot === "undefined") return;
  var charts = JSON.parse(source.textContent);
  var lang = document.documentElement.lang || "ko";
  var zone = "Asia/Seoul";
  var colours = ["#0b4f9c", "#d64545", "#2f8132", "#b7791f"];

  function bytes(n) {
    var units = ["B", "KB", "MB", "GB", "TB"], i = 0;
    while (Math.abs(n) >= 1024 && i < units.length - 1) { n /= 1024; i++; }
    return (i ? n.toFixed(1) : n) + " " + units[i];
  }
  function seconds(n) {
    if (n < 60) return n.toFixed(n < 10 ? 1 : 0) + (lang === "ko" ? "초" : " s");
    var m = Math.floor(n / 60), s = Math.round(n % 60);
    return lang === "ko" ? m + "분 " + s + "초" : m + " min " + s + " s";
  }
  var count = new Intl.NumberFormat(lang);
  var formats = { bytes: bytes, seconds: seconds, count: function (n) { return count.format(n); } };
  var day = new Intl.DateTimeFormat(lang, { timeZone: zone, month: "short", day: "numeric" });
  var moment = new Intl.DateTimeFormat(lang, {
    timeZone: zone, month: "short", day: "numeric", hour: "2-digit", minute: "2-digit"
  });

  function draw(element) {
    var chart = charts[element.dataset.chart];
    if (!chart || chart.x.length === 0) {
      element.textContent = element.dataset.empty || "";
      element.classList.add("empty");
      return;
    }
    var units = [];
    chart.series.forEach(function (s) { if (units.indexOf(s.unit) < 0) units.push(s.unit); });
    var bars = element.dataset.kind === "bars";
    var series = [{
      label: (document.getElementById("qiro-charts-labels") || {dataset: {}}).dataset.time || "",
      value: function (u, v) { return v == null ? "" : moment.format(new Date(v * 1000)); }
    }];
    chart.series.forEach(function (s, i) {
      series.push({
        label: s.label, scale: s.unit, stroke: colours[i % colours.length], width: 2,
        fill: bars && i === 0 ? colours[0] + "33" : undefined,
        paths: bars && i === 0 ? uPlot.paths.bars({ size: [0.6, 40] }) : undefined,
        points: { show: chart.x.length < 40 },
        value: function (u, v) { return v == null ? "" : formats[s.unit](v); }
      });
    });
    var span = chart.x[chart.x.length - 1] - chart.x[0];
    var axes = [{
      // within two days: date and time, wider apart; else the date alone
      space: span < 2 * 86400 ? 130 : 70,
      values: function (u, ticks) {
        var shown = span < 2 * 86400 ? moment : day;
        return ticks.map(function (t) { return shown.format(new Date(t * 1000)); });
      }
    }];
    units.forEach(function (unit, i) {
      axes.push({
        scale: unit, side: i === 0 ? 3 : 1, grid: { show: i === 0 }, size: 70,
        values: function (u, ticks) { return ticks.map(formats[unit]); }
      });
    });
    var scales = { x: { time: true } };
    units.forEach(function (unit) { scales[unit] = { range: function (u, min, max) { return [0, Math.max(max, unit === "count" ? 1 : max) * 1.1 || 1]; } }; });
    var data = [chart.x].concat(chart.series.map(function (s) { return s.values; }));
    var width = Math.max(320, element.clientWidth || 640);
    new uPlot({ width: width, height: 220, series: series, axes: axes, scales: scales }, data, element);
  }

  document.querySelectorAll("[data-chart]").forEach(draw);
})();
