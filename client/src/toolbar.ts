/**
 * The tool buttons and their panels: the info tool (a click asks who placed a pixel), the template panel,
 * the heatmap and its time window, the timelapse panel, and every panel's close button. One panel is open
 * at a time: they share a place (the left column, a phone's bottom sheet), so a second would cover the first.
 */
import type { Heatmap } from './heatmap.js';
import type { Hud } from './hud.js';
import type { PixelInfoPanel } from './pixel-info.js';
import type { Timelapse } from './timelapse.js';

export interface ToolbarParts {
  hud: Hud;
  info: PixelInfoPanel;
  heatmap: Heatmap;
  timelapse: Timelapse;
  requestFrame(): void;
}

function toggle(id: string, on: boolean): void {
  document.getElementById(id)!.setAttribute('aria-pressed', String(on));
}

function panel(id: string, show: boolean): void {
  document.getElementById(id)!.hidden = !show;
}

const PANELS = ['pixel-info', 'template-panel', 'timelapse-panel'] as const;
type PanelId = (typeof PANELS)[number];

export class Toolbar {
  private infoOn = false;
  /** Redraws each second while the heatmap is on, so it cools visibly. */
  private heatTimer: ReturnType<typeof setInterval> | null = null;

  constructor(private readonly parts: ToolbarParts) {
    const { hud, heatmap, timelapse } = parts;
    document.getElementById('tool-info')!.addEventListener('click', () => {
      this.infoOn = !this.infoOn;
      toggle('tool-info', this.infoOn);
      if (!this.infoOn) parts.info.hide();
      else hud.toast(`Info: ${matchMedia('(pointer: coarse)').matches ? 'tap' : 'click'} any pixel to see who placed it.`, 'info', 'tool');
    });
    document.getElementById('tool-template')!.addEventListener('click', () => {
      const p = document.getElementById('template-panel')!;
      if (p.hidden) this.closePanels('template-panel');
      panel('template-panel', p.hidden);
      toggle('tool-template', !p.hidden);
    });
    const heatWindow = document.getElementById('heat-window') as HTMLSelectElement;
    heatWindow.addEventListener('change', () => {
      heatmap.windowMs = Number(heatWindow.value);
      void heatmap.setEnabled(true).then(() => parts.requestFrame()); // re-seeds the longer window
    });
    document.getElementById('tool-heatmap')!.addEventListener('click', () => {
      const on = !heatmap.enabled;
      toggle('tool-heatmap', on);
      heatWindow.hidden = !on;
      void heatmap.setEnabled(on).then(() => parts.requestFrame());
      if (this.heatTimer !== null) clearInterval(this.heatTimer);
      this.heatTimer = on ? setInterval(() => parts.requestFrame(), 1000) : null;
    });
    document.getElementById('tool-timelapse')!.addEventListener('click', () => {
      const p = document.getElementById('timelapse-panel')!;
      if (p.hidden) this.closePanels('timelapse-panel');
      panel('timelapse-panel', p.hidden);
      toggle('tool-timelapse', !p.hidden);
      if (!p.hidden) timelapse.reset();
    });
    for (const b of document.querySelectorAll<HTMLElement>('[data-close]')) {
      b.addEventListener('click', () => this.close(b.dataset.close as PanelId));
    }
  }

  /** Closes every panel but `keep` (about to open). */
  closePanels(keep: PanelId): void {
    for (const id of PANELS) if (id !== keep && !document.getElementById(id)!.hidden) this.close(id);
  }

  private close(id: PanelId): void {
    panel(id, false);
    if (id === 'pixel-info') this.parts.info.hide();
    if (id === 'template-panel') toggle('tool-template', false);
    if (id === 'timelapse-panel') toggle('tool-timelapse', false);
  }

  /** The info tool is on: a click shows pixel info instead of painting. */
  get infoMode(): boolean {
    return this.infoOn;
  }
}
