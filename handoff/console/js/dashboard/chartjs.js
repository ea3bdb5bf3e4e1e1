// Chart.js from the vendored UMD build: importing it sets globalThis.Chart. Shared
// defaults here make every chart match the console's type and colours.
import "../../vendor/chart.umd.min.js";

export const Chart = globalThis.Chart;

Chart.defaults.font.family = getComputedStyle(document.documentElement).fontFamily;
Chart.defaults.font.size = 12;
Chart.defaults.color = "#5b6474";
Chart.defaults.borderColor = "#e3e6eb";
Chart.defaults.animation = false;
Chart.defaults.maintainAspectRatio = false;
Chart.defaults.plugins.legend.labels.boxWidth = 12;

export const COLORS = {
  primary: "#1f6feb",
  light: "#8fb5f5",
  ok: "#1a7f37",
  warn: "#d4a72c",
  danger: "#c62828",
  grey: "#9aa3af",
};
