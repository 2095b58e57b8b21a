/**
 * The lineage panel: an image's ancestry drawn as a graph. One row per generation, the oldest on top and
 * the chosen image at the bottom; arrows run from each parent to what was made from it, labelled with
 * the role (variation-strong, variation-subtle, upscale, reroll, blend, image-prompt). When a child came
 * from one image of a parent's grid, that quadrant of the parent's thumbnail is outlined.
 */
import { loadLineage } from './api.js';
import { h, replace } from './dom.js';

const SVG = 'http://www.w3.org/2000/svg';
const KIND_LABEL = {
  imagine: 'Imagine',
  variation: 'Variation',
  upscale: 'Upscale',
  reroll: 'Reroll',
  blend: 'Blend',
  upload: 'Uploaded image',
  expired: 'Expired',
};

/**
 * Opens the panel for `jobId`. `messageOf(jobId)` finds a job's message in the channel on screen (or
 * null); cards whose job has one get a "Show in channel" link that closes the panel and goes there.
 */
export async function openLineage(jobId, messageOf = () => null) {
  const graph = h(
    'div',
    { class: 'lineage-graph', 'aria-busy': 'true' },
    h('p', { class: 'lineage-status' }, 'Loading…'),
  );
  const dialog = h(
    'dialog',
    { class: 'lineage-panel', 'aria-labelledby': 'lineage-title' },
    h(
      'header',
      {},
      h('h2', { id: 'lineage-title' }, 'Lineage of ', h('code', {}, jobId)),
      h(
        'button',
        {
          type: 'button',
          class: 'close-button',
          'aria-label': 'Close lineage',
          onclick: () => dialog.close(),
        },
        '×',
      ),
    ),
    graph,
  );
  const redraw = () => drawEdges(graph);
  dialog.addEventListener('close', () => {
    window.removeEventListener('resize', redraw);
    dialog.remove();
  });
  document.body.append(dialog);
  dialog.showModal();
  try {
    const lineage = await loadLineage(jobId);
    const goTo = (id) => {
      const message = messageOf(id);
      dialog.close();
      message?.scrollIntoView({ block: 'center' });
      message?.classList.add('flash');
      setTimeout(() => message?.classList.remove('flash'), 2000);
    };
    layout(graph, lineage, (id) => (messageOf(id) ? goTo : null));
    graph.removeAttribute('aria-busy');
    window.addEventListener('resize', redraw);
    // Card sizes are fixed in CSS, so the arrows can be drawn now (a tab in the background gets no
    // animation frames); once more on the next frame in case fonts moved the captions.
    redraw();
    requestAnimationFrame(redraw);
  } catch (error) {
    replace(graph, h('p', { class: 'lineage-status error', role: 'alert' }, error.message));
  }
  return dialog;
}

function layout(graph, lineage, linkFor) {
  const byGeneration = new Map();
  for (const node of lineage.nodes) {
    const row = byGeneration.get(node.generation) ?? [];
    row.push(node);
    byGeneration.set(node.generation, row);
  }
  // Which quadrants of each parent's grid were used, to outline them on its thumbnail.
  const used = new Map();
  for (const node of lineage.nodes) {
    for (const edge of node.parents) {
      if (edge.index === null) continue;
      const set = used.get(edge.jobId) ?? new Set();
      set.add(edge.index);
      used.set(edge.jobId, set);
    }
  }
  const generations = [...byGeneration.keys()].sort((a, b) => b - a);
  replace(
    graph,
    svgEl('svg', { class: 'lineage-edges', 'aria-hidden': 'true' }),
    ...generations.map((g) =>
      h(
        'section',
        {
          class: 'lineage-row',
          'aria-label': g === 0 ? 'This image' : `${g} generation${g > 1 ? 's' : ''} back`,
        },
        h('span', { class: 'generation-label' }, g === 0 ? 'this image' : `${g} back`),
        byGeneration
          .get(g)
          .map((node) => card(node, node.jobId === lineage.root, used.get(node.jobId), linkFor(node.jobId))),
      ),
    ),
    lineage.truncated ? h('p', { class: 'lineage-status' }, 'Older generations are not shown.') : null,
  );
  // The edges, kept as data on the graph so a redraw (resize) needs no second fetch.
  graph.edges = lineage.nodes.flatMap((node) =>
    node.parents.map((edge) => ({ from: edge.jobId, to: node.jobId, edge })),
  );
}

function card(node, isRoot, usedQuadrants, goTo) {
  const quadrants =
    node.kind === 'upscale' || node.kind === 'upload' || !usedQuadrants
      ? []
      : [...usedQuadrants].map((i) =>
          h('span', { class: `quadrant q${i}`, title: `image #${i + 1}` }, String(i + 1)),
        );
  return h(
    'figure',
    { class: `lineage-node${isRoot ? ' root' : ''}`, dataset: { jobId: node.jobId, kind: node.kind } },
    h(
      'div',
      { class: 'thumb' },
      node.image
        ? h('img', { src: node.image, alt: `${KIND_LABEL[node.kind] ?? node.kind} ${node.jobId}` })
        : h('span', { class: 'no-image' }, node.status === 'expired' ? 'expired' : node.status),
      quadrants,
    ),
    h(
      'figcaption',
      {},
      h(
        'span',
        { class: `kind-badge kind-${node.kind}` },
        KIND_LABEL[node.kind] ?? node.kind,
        node.index !== undefined ? ` #${node.index + 1}` : '',
      ),
      node.prompt ? h('span', { class: 'node-prompt', title: node.prompt }, node.prompt) : null,
      h(
        'span',
        { class: 'node-meta' },
        node.seed !== null ? `seed ${node.seed} · ` : '',
        h('code', {}, node.jobId),
      ),
      goTo
        ? h(
            'button',
            { type: 'button', class: 'text-button show-message', onclick: () => goTo(node.jobId) },
            'Show in channel',
          )
        : null,
    ),
  );
}

/** Draws one arrow per edge from the parent's bottom to the child's top, in the graph's coordinates. */
function drawEdges(graph) {
  const svg = graph.querySelector('svg.lineage-edges');
  if (!svg || !graph.edges) return;
  const box = graph.getBoundingClientRect();
  svg.setAttribute('width', graph.scrollWidth);
  svg.setAttribute('height', graph.scrollHeight);
  const marker = svgEl('marker', {
    id: 'arrow',
    viewBox: '0 0 10 10',
    refX: 9,
    refY: 5,
    markerWidth: 7,
    markerHeight: 7,
    orient: 'auto-start-reverse',
  });
  marker.append(svgEl('path', { d: 'M0,0 L10,5 L0,10 z', class: 'arrow-head' }));
  const defs = svgEl('defs', {});
  defs.append(marker);
  svg.replaceChildren(defs);
  const nodeEl = (id) => graph.querySelector(`.lineage-node[data-job-id="${id}"]`);
  for (const { from, to, edge } of graph.edges) {
    const a = nodeEl(from)?.getBoundingClientRect();
    const b = nodeEl(to)?.getBoundingClientRect();
    if (!a || !b) continue;
    const x1 = a.left + a.width / 2 - box.left + graph.scrollLeft;
    const y1 = a.bottom - box.top + graph.scrollTop + 2;
    const x2 = b.left + b.width / 2 - box.left + graph.scrollLeft;
    const y2 = b.top - box.top + graph.scrollTop - 4;
    const mid = (y1 + y2) / 2;
    svg.append(
      svgEl('path', {
        d: `M${x1},${y1} C${x1},${mid} ${x2},${mid} ${x2},${y2}`,
        class: `edge role-${edge.role}`,
        'marker-end': 'url(#arrow)',
      }),
    );
    const label = `${edge.role}${edge.index !== null ? ` · #${edge.index + 1}` : ''}`;
    const text = svgEl('text', {
      x: (x1 + x2) / 2,
      y: mid + 4,
      class: `edge-label role-${edge.role}`,
      'text-anchor': 'middle',
    });
    text.textContent = label;
    svg.append(text);
  }
  // A label background drawn after the text knows its size, so labels stay readable over arrows.
  for (const text of svg.querySelectorAll('text')) {
    const b = text.getBBox();
    const bg = svgEl('rect', {
      x: b.x - 6,
      y: b.y - 2,
      width: b.width + 12,
      height: b.height + 4,
      rx: 4,
      class: 'edge-label-bg',
    });
    svg.insertBefore(bg, text);
  }
}

function svgEl(tag, attrs) {
  const element = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) element.setAttribute(k, String(v));
  return element;
}
