/**
 * Narrative safety (FHIR R4 §2.4 Narrative, invariants txt-1 and txt-2): the xhtml of a narrative
 * SHALL contain only the basic HTML formatting elements and attributes (HTML 4.0 chapters 7–11
 * except §9.4, and 15), `<a>` (name or href), images and internally contained style attributes; no
 * scripts, forms, base, link, xlink, frames, iframes or objects; and some non-whitespace content.
 * @medplum/core evaluates txt-1's `htmlChecks()` as always true, so this module does it.
 *
 * An allow-list, not a block-list: anything not named below is refused. The element list follows
 * the one the HL7 FHIR validator applies.
 */

/** What was wrong, without quoting the narrative. */
export interface NarrativeIssue {
  rule: 'NARRATIVE_UNSAFE' | 'NARRATIVE_INVALID';
  message: string;
}

const XHTML_NS = 'http://www.w3.org/1999/xhtml';

/** Elements a FHIR narrative may contain. */
const ALLOWED_ELEMENTS = new Set([
  'p', 'br', 'div', 'h1', 'h2', 'h3', 'h4', 'h5', 'h6', 'a', 'span', 'b', 'em', 'i', 'strong', 'small', 'big', 'tt',
  'dfn', 'q', 'var', 'abbr', 'acronym', 'cite', 'blockquote', 'hr', 'address', 'bdo', 'kbd', 'sub', 'sup', 'ul', 'ol',
  'li', 'dl', 'dt', 'dd', 'pre', 'table', 'caption', 'colgroup', 'col', 'thead', 'tr', 'tfoot', 'tbody', 'th', 'td',
  'code', 'samp', 'img', 'map', 'area',
]);

/** Elements whose mere presence is active content (reported as unsafe rather than just not allowed). */
const ACTIVE_ELEMENTS = new Set([
  'script', 'style', 'iframe', 'frame', 'frameset', 'object', 'embed', 'applet', 'form', 'input', 'button', 'select',
  'textarea', 'base', 'link', 'meta', 'svg', 'math', 'template', 'portal', 'audio', 'video', 'source', 'track', 'noscript',
]);

/** Attributes allowed on any element. */
const GLOBAL_ATTRIBUTES = new Set(['id', 'class', 'style', 'title', 'lang', 'xml:lang', 'dir', 'accesskey', 'tabindex']);

/** Attributes allowed on particular elements. */
const ELEMENT_ATTRIBUTES: Record<string, ReadonlySet<string>> = {
  a: new Set(['href', 'name', 'rel', 'type', 'hreflang', 'shape', 'coords']),
  img: new Set(['src', 'alt', 'width', 'height', 'longdesc', 'usemap', 'border', 'align', 'hspace', 'vspace']),
  area: new Set(['href', 'alt', 'shape', 'coords', 'nohref']),
  map: new Set(['name']),
  table: new Set(['summary', 'width', 'border', 'frame', 'rules', 'cellspacing', 'cellpadding', 'align', 'bgcolor']),
  td: new Set(['abbr', 'axis', 'headers', 'scope', 'rowspan', 'colspan', 'align', 'char', 'charoff', 'valign', 'nowrap', 'width', 'height', 'bgcolor']),
  th: new Set(['abbr', 'axis', 'headers', 'scope', 'rowspan', 'colspan', 'align', 'char', 'charoff', 'valign', 'nowrap', 'width', 'height', 'bgcolor']),
  tr: new Set(['align', 'char', 'charoff', 'valign', 'bgcolor']),
  thead: new Set(['align', 'char', 'charoff', 'valign']),
  tbody: new Set(['align', 'char', 'charoff', 'valign']),
  tfoot: new Set(['align', 'char', 'charoff', 'valign']),
  col: new Set(['span', 'width', 'align', 'char', 'charoff', 'valign']),
  colgroup: new Set(['span', 'width', 'align', 'char', 'charoff', 'valign']),
  ol: new Set(['type', 'start', 'compact']),
  ul: new Set(['type', 'compact']),
  li: new Set(['type', 'value']),
  blockquote: new Set(['cite']),
  q: new Set(['cite']),
  bdo: new Set(['dir']),
  p: new Set(['align']),
  div: new Set(['align', 'xmlns']),
  hr: new Set(['align', 'noshade', 'size', 'width']),
  pre: new Set(['width']),
  h1: new Set(['align']), h2: new Set(['align']), h3: new Set(['align']), h4: new Set(['align']), h5: new Set(['align']), h6: new Set(['align']),
};

/** URL schemes an `href` may use; anything else (javascript:, vbscript:, data:, file:…) is refused. */
const SAFE_HREF_SCHEMES = new Set(['http', 'https', 'mailto', 'tel', 'urn']);
/** Images may also be inline raster data. */
const SAFE_IMAGE_DATA = /^data:image\/(png|gif|jpeg|webp);base64,[a-z0-9+/=\s]*$/i;

/** Style content that executes or loads something. */
const UNSAFE_STYLE = /expression\s*\(|javascript:|vbscript:|url\s*\(|@import|behaviou?r\s*:|-moz-binding|<\/?\s*[a-z]/i;

function decodeEntities(text: string): string {
  return text.replace(/&(#x[0-9a-f]+|#[0-9]+|[a-z][a-z0-9]*);?/gi, (whole, body: string) => {
    if (body[0] === '#') {
      const code = body[1] === 'x' || body[1] === 'X' ? Number.parseInt(body.slice(2), 16) : Number.parseInt(body.slice(1), 10);
      return Number.isFinite(code) && code >= 0 && code <= 0x10ffff ? String.fromCodePoint(code) : '';
    }
    const named: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", colon: ':', tab: '\t', newline: '\n', sol: '/' };
    return named[body.toLowerCase()] ?? whole;
  });
}

/** CSS escapes (`\6a` → `j`) hide keywords from a naive scan. */
function decodeCssEscapes(text: string): string {
  return text.replace(/\\([0-9a-f]{1,6})\s?|\\(.)/gi, (_w, hex: string | undefined, ch: string | undefined) => {
    if (hex) {
      const code = Number.parseInt(hex, 16);
      return code > 0 && code <= 0x10ffff ? String.fromCodePoint(code) : '';
    }
    return ch ?? '';
  });
}

function urlIsSafe(raw: string, element: string): boolean {
  // Browsers ignore ASCII whitespace and control characters inside a scheme ("java\tscript:").
  // eslint-disable-next-line no-control-regex
  const url = decodeEntities(raw).replace(/[\u0000-\u0020\u007f-\u009f]/g, '').toLowerCase();
  if (url === '' || url.startsWith('#')) return true;
  const scheme = /^([a-z][a-z0-9+.-]*):/.exec(url);
  if (!scheme) return !url.startsWith('//') || element !== 'img'; // relative reference
  if (element === 'img' && scheme[1] === 'data') return SAFE_IMAGE_DATA.test(decodeEntities(raw).trim());
  return SAFE_HREF_SCHEMES.has(scheme[1]!);
}

interface Attribute {
  name: string;
  value: string;
}

/** Parses the attributes of one start tag; undefined if they are not well-formed XML attributes. */
function parseAttributes(text: string): Attribute[] | undefined {
  const out: Attribute[] = [];
  const re = /\s*([A-Za-z_:][-A-Za-z0-9_:.]*)\s*=\s*("([^"<]*)"|'([^'<]*)')/y;
  let at = 0;
  while (at < text.length) {
    if (/^\s*$/.test(text.slice(at))) break;
    re.lastIndex = at;
    const m = re.exec(text);
    if (!m) return undefined;
    out.push({ name: m[1]!, value: m[3] ?? m[4] ?? '' });
    at = re.lastIndex;
  }
  return out;
}

/**
 * Checks one narrative `div`. Returns every issue found (empty when the narrative is safe and
 * valid). Never throws.
 */
export function checkNarrative(xhtml: string): NarrativeIssue[] {
  const issues: NarrativeIssue[] = [];
  const unsafe = (message: string): void => {
    issues.push({ rule: 'NARRATIVE_UNSAFE', message });
  };
  const invalid = (message: string): void => {
    issues.push({ rule: 'NARRATIVE_INVALID', message });
  };
  const stack: string[] = [];
  let text = '';
  let rootSeen = false;
  let i = 0;
  const n = xhtml.length;
  while (i < n) {
    const lt = xhtml.indexOf('<', i);
    if (lt < 0) {
      text += xhtml.slice(i);
      if (stack.length === 0 && xhtml.slice(i).trim() !== '') invalid('content after the root div');
      break;
    }
    const between = xhtml.slice(i, lt);
    text += between;
    if (stack.length === 0 && between.trim() !== '') invalid('content outside the root div');
    if (xhtml.startsWith('<!--', lt)) {
      const end = xhtml.indexOf('-->', lt + 4);
      if (end < 0) {
        invalid('unterminated comment');
        break;
      }
      i = end + 3;
      continue;
    }
    if (xhtml.startsWith('<![CDATA[', lt) || xhtml.startsWith('<!', lt) || xhtml.startsWith('<?', lt)) {
      invalid('CDATA sections, declarations and processing instructions are not allowed');
      break;
    }
    const gt = xhtml.indexOf('>', lt);
    if (gt < 0) {
      invalid('unterminated tag');
      break;
    }
    const tag = xhtml.slice(lt + 1, gt);
    i = gt + 1;
    if (tag.startsWith('/')) {
      const name = tag.slice(1).trim().toLowerCase();
      const open = stack.pop();
      if (open !== name) {
        invalid(`closing tag </${name.slice(0, 20)}> does not match the open element`);
        break;
      }
      continue;
    }
    const selfClosing = tag.endsWith('/');
    const body = selfClosing ? tag.slice(0, -1) : tag;
    const nameMatch = /^([A-Za-z][A-Za-z0-9:-]*)/.exec(body);
    if (!nameMatch) {
      invalid('malformed tag');
      break;
    }
    const rawName = nameMatch[1]!;
    const name = rawName.toLowerCase();
    if (!rootSeen) {
      rootSeen = true;
      if (name !== 'div') invalid('the narrative root must be a div');
    } else if (stack.length === 0) {
      invalid('more than one root element');
    }
    if (ACTIVE_ELEMENTS.has(name)) unsafe(`element <${name}> is active content`);
    else if (!ALLOWED_ELEMENTS.has(name)) invalid(`element <${name.slice(0, 20)}> is not allowed in a narrative`);
    const attributes = parseAttributes(body.slice(rawName.length));
    if (!attributes) {
      invalid(`malformed attributes on <${name}>`);
      break;
    }
    for (const { name: rawAttr, value } of attributes) {
      const attr = rawAttr.toLowerCase();
      if (attr.startsWith('on')) {
        unsafe(`event handler attribute ${attr.slice(0, 20)} on <${name}>`);
        continue;
      }
      if (attr === 'xmlns') {
        // Re-declaring the XHTML namespace on an inner element changes nothing (the IPS IG's own
        // examples do it on <table>); any other namespace would take the element out of XHTML.
        if (value !== XHTML_NS) invalid(stack.length === 0 ? 'the root div must use the XHTML namespace' : 'an element must stay in the XHTML namespace');
        continue;
      }
      if (!GLOBAL_ATTRIBUTES.has(attr) && !ELEMENT_ATTRIBUTES[name]?.has(attr)) {
        // Unknown attributes may be active (formaction, srcdoc, xlink:href…): refuse them all.
        unsafe(`attribute ${attr.slice(0, 20)} is not allowed on <${name}>`);
        continue;
      }
      if ((attr === 'href' || attr === 'src' || attr === 'longdesc' || attr === 'cite') && !urlIsSafe(value, name)) {
        unsafe(`unsafe URL in ${attr} on <${name}>`);
      }
      if (attr === 'style' && UNSAFE_STYLE.test(decodeCssEscapes(decodeEntities(value)))) {
        unsafe(`style on <${name}> executes or loads content`);
      }
    }
    if (stack.length === 0 && name === 'div' && !attributes.some((a) => a.name === 'xmlns')) {
      invalid('the root div must declare xmlns="http://www.w3.org/1999/xhtml"');
    }
    if (!selfClosing) stack.push(name);
    else if (stack.length === 0) break; // a self-closed root div: nothing may follow
  }
  if (!rootSeen) invalid('the narrative must be a div element');
  else if (stack.length > 0 && !issues.some((x) => x.rule === 'NARRATIVE_INVALID')) invalid('unclosed element');
  if (issues.length === 0 && decodeEntities(text).trim() === '') {
    // txt-2: the narrative SHALL have some non-whitespace content. An image counts as content.
    if (!/<img\b/i.test(xhtml)) invalid('the narrative has no content (txt-2)');
  }
  return issues;
}
