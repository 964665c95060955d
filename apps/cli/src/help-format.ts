/**
 * Wraps a command description once to `width` columns. Descriptions are written with line breaks at
 * arbitrary places in the source; a line that starts with a space (a list or table row) or follows a
 * line ending with ":" keeps its own line (wrapped with a hanging indent under its second column), and
 * blank lines part paragraphs. Everything else is joined into paragraphs and filled to the width, so the
 * help reads the same on any terminal.
 */
export function wrapDescription(text: string, width: number): string {
  const out: string[] = [];
  let paragraph: string[] = [];
  const flush = () => {
    if (paragraph.length) out.push(...fill(paragraph.join(' '), width));
    paragraph = [];
  };
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith(' ')) {
      flush();
      out.push(...row(line, width));
    } else if (line.trimEnd().endsWith(':')) {
      paragraph.push(line);
      flush();
    } else {
      paragraph.push(line.trim());
    }
  }
  flush();
  return out.join('\n');
}

/** A list or table row: `  name   text…`, continued under `text` when it is longer than `width`. */
function row(line: string, width: number): string[] {
  if (line.length <= width) return [line];
  const indent = (line.match(/^\s+\S+\s{2,}/) ?? line.match(/^\s+/))![0].length;
  const [first = '', ...rest] = fill(line.slice(indent), Math.max(20, width - indent));
  return [line.slice(0, indent) + first, ...rest.map((text) => ' '.repeat(indent) + text)];
}

/** Greedy fill: as many words per line as fit in `width` (a longer word gets a line of its own). */
function fill(text: string, width: number): string[] {
  const lines: string[] = [];
  let current = '';
  for (const word of text.split(/\s+/).filter(Boolean)) {
    if (current && current.length + 1 + word.length > width) {
      lines.push(current);
      current = word;
    } else {
      current = current ? `${current} ${word}` : word;
    }
  }
  if (current) lines.push(current);
  return lines;
}
