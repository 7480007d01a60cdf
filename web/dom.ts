// A few DOM helpers; the page uses no framework.

export const $ = <T extends HTMLElement = HTMLElement>(id: string): T => {
  const el = document.getElementById(id);
  if (!el) throw new Error(`#${id} is missing from the page`);
  return el as T;
};

type Props = Partial<Record<string, string | undefined>>;

/** An element with attributes and children. */
export function h<K extends keyof HTMLElementTagNameMap>(tag: K, props: Props = {}, ...children: Array<Node | string | null | undefined>): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) if (v !== undefined) el.setAttribute(k, v);
  for (const c of children) if (c !== null && c !== undefined) el.append(c);
  return el;
}

export const show = (el: HTMLElement, on = true) => {
  el.hidden = !on;
};

export const reducedMotion = () => matchMedia('(prefers-reduced-motion: reduce)').matches;
