/**
 * Step summaries (`$GITHUB_STEP_SUMMARY`) as HTML. The Markdown comes from the repository under test, so anyone who
 * can open a pull request writes it: it is rendered by markdown-it (CommonMark + GFM tables and strikethrough) with
 * raw HTML off — an HTML tag is shown as text, never as markup (GitHub allows a sanitized subset; spotcheck allows
 * none) — and links only to http(s) and mailto URLs and to anchors (no `javascript:`, `data:`, `vbscript:`, `file:`).
 * Images become links to the image: the dashboard's Content-Security-Policy loads images from itself only, and a
 * summary must not make a reader's browser fetch a third party's URL (GitHub proxies them through camo instead).
 */
import MarkdownIt from 'markdown-it';
import { escapeHtml, trusted, type SafeHtml } from './html.ts';

const SAFE_LINK = /^(?:https?:\/\/|mailto:|#)/i;

function createRenderer(): InstanceType<typeof MarkdownIt> {
  const md = new MarkdownIt({ html: false, linkify: false, typographer: false });
  // markdown-it's own check already refuses javascript:, vbscript:, file: and most data: URLs; this allows less.
  md.validateLink = (url) => SAFE_LINK.test(url.trim());
  md.renderer.rules.image = (tokens, idx) => {
    const token = tokens[idx]!;
    const src = String(token.attrGet('src') ?? '');
    const alt = token.children?.map((c) => c.content).join('') ?? '';
    return `<a href="${escapeHtml(src)}" rel="nofollow noopener noreferrer">${escapeHtml(alt === '' ? 'image' : alt)}</a>`;
  };
  const linkOpen = md.renderer.rules.link_open;
  md.renderer.rules.link_open = (tokens, idx, options, env, self) => {
    tokens[idx]!.attrSet('rel', 'nofollow noopener noreferrer');
    return linkOpen ? linkOpen(tokens, idx, options, env, self) : self.renderToken(tokens, idx, options);
  };
  return md;
}

const renderer = createRenderer();

/** A step summary's Markdown as safe HTML (see the module comment for what is allowed). */
export function renderSummaryMarkdown(markdown: string): SafeHtml {
  return trusted(renderer.render(markdown));
}
