/** Escaping for the XML and HTML reports. Cell text comes from commands and peers: treat it as hostile. */
import { plainText } from './cell-text.js';

/**
 * Text safe in XML 1.0 character data: ANSI sequences and characters XML cannot carry (controls
 * other than tab/newline/CR, U+FFFE/U+FFFF, lone surrogates) are dropped, markup is escaped.
 */
export function escapeXml(text: string): string {
  return xmlChars(text).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** As escapeXml, with quotes escaped, and whitespace as references so attribute values keep their line breaks. */
export function escapeXmlAttribute(text: string): string {
  return escapeXml(text)
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;')
    .replace(/\t/g, '&#9;')
    .replace(/\n/g, '&#10;')
    .replace(/\r/g, '&#13;');
}

/** Text safe in HTML content and in quoted attribute values. */
export function escapeHtml(text: string): string {
  return escapeXml(text).replace(/"/g, '&quot;').replace(/'/g, '&#39;');
}

function xmlChars(text: string): string {
  return plainText(text).replace(
    /[\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g,
    '',
  );
}

/** A fragment of HTML that is already escaped. */
export class Html {
  constructor(readonly text: string) {}
  toString(): string {
    return this.text;
  }
}

type HtmlValue = Html | string | number | boolean | null | undefined | readonly HtmlValue[];

/**
 * Tagged template for HTML: interpolated values are escaped unless they are Html; arrays are
 * concatenated; null, undefined and false render nothing. (Not named `html`: prettier would
 * reformat the templates as markup.)
 */
export function markup(strings: TemplateStringsArray, ...values: HtmlValue[]): Html {
  return new Html(strings.reduce((out, s, i) => out + s + (i < values.length ? render(values[i]) : ''), ''));
}

/** Trusted markup (constants of the renderer, never cell text). */
export function trusted(text: string): Html {
  return new Html(text);
}

function render(v: HtmlValue): string {
  if (v instanceof Html) return v.text;
  if (Array.isArray(v)) return v.map(render).join('');
  if (v === null || v === undefined || v === false) return '';
  return escapeHtml(String(v));
}
