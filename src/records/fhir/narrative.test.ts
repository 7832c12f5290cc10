import { describe, expect, it } from 'vitest';
import { checkNarrative } from './narrative.js';

const div = (inner: string, attrs = ''): string => `<div xmlns="http://www.w3.org/1999/xhtml"${attrs}>${inner}</div>`;
const rules = (xhtml: string): string[] => checkNarrative(xhtml).map((i) => i.rule);

describe('narrative safety (txt-1, txt-2)', () => {
  it('accepts ordinary generated narratives', () => {
    expect(checkNarrative(div('<p><b>Status</b>: final</p><table class="grid"><tr><td colspan="2">x</td></tr></table><br/><a href="https://example.org/a">link</a>'))).toEqual([]);
    expect(checkNarrative(div('<span style="background: LightGoldenRodYellow; margin: 4px">a &gt; b &amp; c</span><!-- note -->'))).toEqual([]);
    expect(checkNarrative(div('<img src="#photo" alt="x"/><a name="top">top</a>'))).toEqual([]);
  });

  it('accepts the XHTML namespace declared again on an inner element (the IPS IG examples do it on <table>)', () => {
    expect(checkNarrative(div('<table xmlns="http://www.w3.org/1999/xhtml"><tr><td>x</td></tr></table>'))).toEqual([]);
  });

  const unsafe: [string, string][] = [
    ['script element', div('<script>alert(1)</script>')],
    ['script with attributes', div('<script type="text/javascript">x</script>')],
    ['event handler', div('<p onclick="steal()">x</p>')],
    ['event handler in capitals', div('<img src="#a" ONERROR="steal()"/>')],
    ['javascript: URL', div('<a href="javascript:steal()">x</a>')],
    ['javascript: URL hidden by entities', div('<a href="&#106;avascript:steal()">x</a>')],
    ['javascript: URL hidden by a tab', div('<a href="java&#9;script:steal()">x</a>')],
    ['vbscript: URL', div('<a href="vbscript:msgbox">x</a>')],
    ['data: URL in a link', div('<a href="data:text/html;base64,PHNjcmlwdD4=">x</a>')],
    ['iframe', div('<iframe src="https://evil.example"></iframe>')],
    ['object', div('<object data="x.swf"></object>')],
    ['embed', div('<embed src="x.swf"/>')],
    ['style element', div('<style>body{}</style>')],
    ['CSS expression', div('<p style="width: expression(alert(1))">x</p>')],
    ['CSS expression hidden by escapes', div('<p style="width: \\65 xpression(alert(1))">x</p>')],
    ['CSS url()', div('<p style="background:url(https://tracker.example/p.gif)">x</p>')],
    ['CSS -moz-binding', div('<p style="-moz-binding: url(x.xml#x)">x</p>')],
    ['form', div('<form action="https://evil.example"><input name="a"/></form>')],
    ['unknown attribute', div('<p srcdoc="x">x</p>')],
    ['svg', div('<svg><script>x</script></svg>')],
    ['base', div('<base href="https://evil.example/"/>x')],
  ];
  for (const [what, xhtml] of unsafe) {
    it(`refuses ${what}`, () => {
      expect(rules(xhtml)).toContain('NARRATIVE_UNSAFE');
    });
  }

  const invalid: [string, string][] = [
    ['a root other than div', '<p xmlns="http://www.w3.org/1999/xhtml">x</p>'],
    ['a root div without the XHTML namespace', '<div>x</div>'],
    ['a wrong namespace', '<div xmlns="http://example.org">x</div>'],
    ['an inner element moved to another namespace', div('<table xmlns="http://example.org"><tr><td>x</td></tr></table>')],
    ['unbalanced tags', div('<p><b>x</p></b>')],
    ['an unclosed element', '<div xmlns="http://www.w3.org/1999/xhtml"><p>x</div>'],
    ['unquoted attributes', div('<td colspan=2>x</td>')],
    ['a processing instruction', div('<?php echo 1 ?>x')],
    ['CDATA', div('<![CDATA[x]]>')],
    ['a doctype', '<!DOCTYPE html>' + div('x')],
    ['no content (txt-2)', div('   <p> </p> ')],
    ['text outside the root', div('x') + 'trailing'],
    ['an element outside the allowed set', div('<marquee>x</marquee>')],
  ];
  for (const [what, xhtml] of invalid) {
    it(`refuses ${what}`, () => {
      expect(rules(xhtml)).toContain('NARRATIVE_INVALID');
    });
  }

  it('never quotes the narrative in its messages', () => {
    for (const issue of checkNarrative(div('<p onclick="PATIENT-SECRET">PATIENT-SECRET</p>'))) expect(issue.message).not.toContain('PATIENT-SECRET');
  });
});
