// A workflow's DAG as SVG.  Nodes come placed by the server (ProcessGraph.nodes[].position,
// one row per depth); each node is coloured by its process's current state.
import { STATES, svg } from './dom.js';

const NODE_W = 150;
const NODE_H = 44;
const PAD = 24;

/**
 * `graph`: a ProcessGraph; `processes`: processid -> Process (for the live state).
 * `onOpen(processid)` is called when a node is clicked.
 */
export function drawDag(graph, processes, onOpen) {
  const nodes = graph.nodes ?? [];
  const edges = graph.edges ?? [];
  const xs = nodes.map((n) => n.position.x);
  const ys = nodes.map((n) => n.position.y);
  const minX = Math.min(...xs, 0);
  const minY = Math.min(...ys, 0);
  const width = Math.max(...xs, 0) - minX + NODE_W + 2 * PAD;
  const height = Math.max(...ys, 0) - minY + NODE_H + 2 * PAD;
  const at = new Map(
    nodes.map((n) => [n.id, { x: n.position.x - minX + PAD, y: n.position.y - minY + PAD }]),
  );

  const root = svg('svg', {
    class: 'dag',
    width,
    height,
    viewBox: `0 0 ${width} ${height}`,
    role: 'img',
    'aria-label': `workflow with ${nodes.length} processes`,
  });
  root.append(
    svg(
      'defs',
      {},
      svg(
        'marker',
        {
          id: 'arrow',
          viewBox: '0 0 10 10',
          refX: 10,
          refY: 5,
          markerWidth: 7,
          markerHeight: 7,
          orient: 'auto-start-reverse',
        },
        svg('path', { d: 'M 0 0 L 10 5 L 0 10 z', class: 'arrowhead' }),
      ),
    ),
  );

  for (const edge of edges) {
    const from = at.get(edge.source);
    const to = at.get(edge.target);
    if (!from || !to) continue;
    const x1 = from.x + NODE_W / 2;
    const y1 = from.y + NODE_H;
    const x2 = to.x + NODE_W / 2;
    const y2 = to.y;
    const mid = (y1 + y2) / 2;
    const sourceState = STATES[processes.get(edge.source)?.state] ?? 'unknown';
    root.append(
      svg('path', {
        class: `edge from-${sourceState}`,
        d: `M ${x1} ${y1} C ${x1} ${mid}, ${x2} ${mid}, ${x2} ${y2}`,
        'data-source': edge.source,
        'data-target': edge.target,
        'marker-end': 'url(#arrow)',
      }),
    );
  }

  for (const node of nodes) {
    const { x, y } = at.get(node.id);
    const process = processes.get(node.id);
    const state = STATES[process?.state] ?? 'unknown';
    const label = node.data?.label ?? process?.spec?.nodename ?? node.id.slice(0, 8);
    const group = svg(
      'g',
      {
        class: `node state-${state}`,
        'data-processid': node.id,
        'data-nodename': label,
        'data-state': state,
        transform: `translate(${x} ${y})`,
        tabindex: 0,
        onclick: () => onOpen(node.id),
        onkeydown: (event) => event.key === 'Enter' && onOpen(node.id),
      },
      svg('title', {}, `${label}: ${state}`),
      svg('rect', { width: NODE_W, height: NODE_H, rx: 8, ry: 8 }),
      svg('text', { x: NODE_W / 2, y: 18, class: 'label' }, label),
      svg('text', { x: NODE_W / 2, y: 35, class: 'sublabel' }, state),
    );
    root.append(group);
  }
  return root;
}
