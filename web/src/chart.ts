// A node's 100-point history (CPU, memory, disk) as a uPlot line chart in the dark theme. The chart keeps
// the values it draws in data attributes too (points, last sample), so the browser tests can see it move.
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import type { HistoryPoint } from './protocol.ts';

const axis = {
  stroke: '#a8b3bf',
  grid: { stroke: '#2a3440', width: 1 },
  ticks: { stroke: '#3a4654', width: 1 },
};

export const seriesColours = { cpu: '#58a6ff', memory: '#d2a8ff', disk: '#3fb950' } as const;

export interface HistoryChart {
  readonly element: HTMLElement;
  set(points: readonly HistoryPoint[]): void;
  resize(width: number): void;
}

export function historyChart(label: string, width = 560): HistoryChart {
  const element = document.createElement('div');
  element.className = 'chart';
  element.setAttribute('role', 'img');
  element.setAttribute('aria-label', `${label}: CPU, memory and disk over the last 100 reports`);
  element.dataset.points = '0';
  const plot = new uPlot(
    {
      width,
      height: 180,
      scales: { x: { time: true }, y: { range: [0, 100] } },
      axes: [axis, { ...axis, values: (_, ticks) => ticks.map((tick) => `${tick} %`), size: 56 }],
      series: [
        {},
        {
          label: 'CPU',
          stroke: seriesColours.cpu,
          width: 2,
          value: (_, v) => (v == null ? '–' : `${v.toFixed(1)} %`),
        },
        {
          label: 'Memory',
          stroke: seriesColours.memory,
          width: 2,
          value: (_, v) => (v == null ? '–' : `${v.toFixed(1)} %`),
        },
        {
          label: 'Disk',
          stroke: seriesColours.disk,
          width: 2,
          value: (_, v) => (v == null ? '–' : `${v.toFixed(1)} %`),
        },
      ],
      legend: { live: true },
      cursor: { drag: { x: false, y: false } },
    },
    [[], [], [], []],
    element,
  );
  return {
    element,
    set(points) {
      const data: uPlot.AlignedData = [
        // The agent's own sample time: a node's points spaced as it took them.
        points.map((point) => Date.parse(point.timestamp) / 1000),
        points.map((point) => point.cpu_percent),
        points.map((point) => point.memory_percent),
        points.map((point) => point.disk_percent),
      ];
      plot.setData(data);
      const last = points.at(-1);
      element.dataset.points = String(points.length);
      element.dataset.last = last
        ? JSON.stringify({
            received_at: last.received_at,
            cpu: last.cpu_percent,
            memory: last.memory_percent,
            disk: last.disk_percent,
          })
        : '';
    },
    resize(next) {
      if (next > 0 && Math.abs(next - plot.width) > 4) plot.setSize({ width: next, height: 180 });
    },
  };
}
