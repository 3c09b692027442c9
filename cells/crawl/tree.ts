/**
 * htmlparser2's Tokenizer driven by a tree builder whose cost is linear in the
 * page: htmlparser2's own Parser keeps its open elements in an array it
 * `unshift`s onto and searches with `indexOf` on every close tag, which makes
 * deep nesting and mismatched close tags quadratic (100,000 unclosed `<span>`s
 * and 100,000 `</div>`s took 31 s). Here the stack is pushed and popped at its
 * end, and a count of open elements per name answers "is one open?" in O(1):
 * a close tag with nothing open of its name costs nothing, and one that is
 * open is found by a search that only passes over elements it then closes
 * (each element is passed once in its life). Everything else follows
 * htmlparser2's Parser in HTML mode (implied closes, void elements, `<form>`
 * inside `<form>`, `</p>` and `</br>`, SVG/MathML foreign content, entity
 * decoding), emitting the same `onopentag`, `ontext` and `onclosetag` events.
 *
 * The page is fed in slices (`step`), so a caller can yield to the event loop
 * between them.
 *
 * @example
 * ```ts
 * import { LinearParser } from "./tree.ts";
 *
 * declare const html: string;
 * const tree = new LinearParser(html, { onopentag(name, attribs) {}, ontext(text) {}, onclosetag(name) {} }, {
 *   attributes: new Set(["href", "class"]), // the only attributes onopentag needs
 * });
 * while (!tree.step(65_536)) {} // or await a macrotask between steps
 * ```
 */
import { QuoteType, Tokenizer, type TokenizerCallbacks } from "htmlparser2";

export interface TreeHandler {
  onopentag(name: string, attribs: Record<string, string>): void;
  ontext(data: string): void;
  onclosetag(name: string): void;
}

const formTags = new Set(["input", "option", "optgroup", "select", "button", "datalist", "textarea"]);
const pTag = new Set(["p"]);
const headingTags = new Set(["h1", "h2", "h3", "h4", "h5", "h6", "p"]);
const tableSectionTags = new Set(["thead", "tbody"]);
const ddtTags = new Set(["dd", "dt"]);
const rtpTags = new Set(["rt", "rp"]);

/** htmlparser2's Parser's table: an opening tag closes these when they are the current element. */
const openImpliesClose = new Map<string, Set<string>>([
  ["tr", new Set(["tr", "th", "td"])], ["th", new Set(["th"])], ["td", new Set(["thead", "th", "td"])],
  ["body", new Set(["head", "link", "script"])], ["a", new Set(["a"])], ["li", new Set(["li"])], ["p", pTag],
  ["h1", headingTags], ["h2", headingTags], ["h3", headingTags], ["h4", headingTags], ["h5", headingTags],
  ["h6", headingTags], ["select", formTags], ["input", formTags], ["output", formTags], ["button", formTags],
  ["datalist", formTags], ["textarea", formTags], ["option", new Set(["option"])],
  ["optgroup", new Set(["optgroup", "option"])], ["dd", ddtTags], ["dt", ddtTags], ["address", pTag],
  ["article", pTag], ["aside", pTag], ["blockquote", pTag], ["details", pTag], ["div", pTag], ["dl", pTag],
  ["fieldset", pTag], ["figcaption", pTag], ["figure", pTag], ["footer", pTag], ["form", pTag], ["header", pTag],
  ["hr", pTag], ["main", pTag], ["nav", pTag], ["ol", pTag], ["pre", pTag], ["section", pTag], ["table", pTag],
  ["ul", pTag], ["rt", rtpTags], ["rp", rtpTags], ["tbody", tableSectionTags], ["tfoot", tableSectionTags],
]);

const voidElements = new Set([
  "area", "base", "basefont", "br", "col", "command", "embed", "frame", "hr", "img", "input", "isindex", "keygen",
  "link", "meta", "param", "source", "track", "wbr",
]);

const foreignContextElements = new Set(["math", "svg"]);
const htmlIntegrationElements = new Set(["mi", "mo", "mn", "ms", "mtext", "annotation-xml", "foreignObject", "desc", "title"]);

const svgTagNameAdjustments = new Map<string, string>(
  [
    "altGlyph", "altGlyphDef", "altGlyphItem", "animateColor", "animateMotion", "animateTransform", "clipPath",
    "feBlend", "feColorMatrix", "feComponentTransfer", "feComposite", "feConvolveMatrix", "feDiffuseLighting",
    "feDisplacementMap", "feDistantLight", "feDropShadow", "feFlood", "feFuncA", "feFuncB", "feFuncG", "feFuncR",
    "feGaussianBlur", "feImage", "feMerge", "feMergeNode", "feMorphology", "feOffset", "fePointLight",
    "feSpecularLighting", "feSpotLight", "feTile", "feTurbulence", "foreignObject", "glyphRef", "linearGradient",
    "radialGradient", "textPath",
  ].map((n) => [n.toLowerCase(), n]),
);

const enum Foreign {
  None,
  Svg,
  MathML,
}

const { fromCodePoint } = String;

export class LinearParser implements TokenizerCallbacks {
  readonly #html: string;
  readonly #cbs: TreeHandler;
  readonly #tokenizer: Tokenizer;
  /** Open elements, the current one last. */
  readonly #stack: string[] = [];
  /** How many elements of each name are open. */
  readonly #open = new Map<string, number>();
  /** Foreign-content contexts, the current one last. */
  readonly #foreign: Foreign[] = [Foreign.None];
  #at = 0;
  #done = false;
  #tagname = "";
  #attribname = "";
  /** Whether the attribute being read is one the handler asked for. */
  #wanted = false;
  #attribvalue = "";
  #attribs: Record<string, string> | null = null;

  /** Attributes reported in `onopentag` (lowercase names); undefined for all of them. */
  readonly #attributes: ReadonlySet<string> | undefined;

  constructor(html: string, cbs: TreeHandler, options: { attributes?: ReadonlySet<string> } = {}) {
    this.#html = html;
    this.#cbs = cbs;
    this.#attributes = options.attributes;
    this.#tokenizer = new Tokenizer({ xmlMode: false, decodeEntities: true }, this);
  }

  /** Feeds the next `chars` characters (the end of the page included); true once the page is done. */
  step(chars: number): boolean {
    if (this.#done) return true;
    if (this.#at < this.#html.length) {
      const end = Math.min(this.#html.length, this.#at + chars);
      this.#tokenizer.write(this.#html.slice(this.#at, end));
      this.#at = end;
    }
    if (this.#at >= this.#html.length) {
      this.#done = true;
      this.#tokenizer.end();
    }
    return this.#done;
  }

  // Tokenizer callbacks (indices are offsets into the whole page).

  ontext(start: number, endIndex: number): void {
    if (start !== endIndex) this.#cbs.ontext(this.#html.slice(start, endIndex));
  }

  ontextentity(cp: number): void {
    this.#cbs.ontext(fromCodePoint(cp));
  }

  isInForeignContext(): boolean {
    return this.#foreign[this.#foreign.length - 1] !== Foreign.None;
  }

  onopentagname(start: number, endIndex: number): void {
    this.#emitOpenTag(this.#readTagName(start, endIndex));
  }

  onopentagend(): void {
    this.#endOpenTag();
  }

  onselfclosingtag(): void {
    if (this.isInForeignContext()) this.#closeCurrentTag();
    else this.#endOpenTag();
  }

  onclosetag(start: number, endIndex: number): void {
    const name = this.#readTagName(start, endIndex);
    if (!voidElements.has(name)) {
      if ((this.#open.get(name) ?? 0) > 0) {
        // Every element above the one closed is closed too: the search is paid for by those pops.
        for (;;) if (this.#pop() === name) break;
      } else if (name === "p") {
        this.#emitOpenTag("p");
        this.#closeCurrentTag();
      }
    } else if (name === "br") {
      this.#cbs.onopentag("br", {});
      this.#cbs.onclosetag("br");
    }
  }

  onattribname(start: number, endIndex: number): void {
    this.#attribname = this.#html.slice(start, endIndex).toLowerCase();
    this.#wanted = this.#attributes === undefined || this.#attributes.has(this.#attribname);
  }

  onattribdata(start: number, endIndex: number): void {
    // Values nobody asked for (most of a page's attributes) are never sliced out of the page.
    if (this.#wanted) this.#attribvalue += this.#html.slice(start, endIndex);
  }

  onattribentity(cp: number): void {
    if (this.#wanted) this.#attribvalue += fromCodePoint(cp);
  }

  onattribend(_quote: QuoteType): void {
    if (this.#wanted && this.#attribs && !Object.hasOwn(this.#attribs, this.#attribname)) {
      this.#attribs[this.#attribname] = this.#attribvalue;
    }
    this.#attribvalue = "";
  }

  oncdata(start: number, endIndex: number, offset: number): void {
    // HTML: CDATA is text only in foreign content, a comment elsewhere (and comments are not text).
    if (this.isInForeignContext()) this.#cbs.ontext(this.#html.slice(start, endIndex - offset));
  }

  oncomment(): void {}
  ondeclaration(): void {}
  onprocessinginstruction(): void {}

  onend(): void {
    for (let i = this.#stack.length - 1; i >= 0; i--) this.#cbs.onclosetag(this.#stack[i]);
    this.#stack.length = 0;
    this.#open.clear();
  }

  #readTagName(start: number, endIndex: number): string {
    const name = this.#html.slice(start, endIndex).toLowerCase();
    const foreign = this.#foreign[this.#foreign.length - 1];
    if (foreign === Foreign.Svg) return svgTagNameAdjustments.get(name) ?? name;
    if (this.#foreign.length > 1) {
      const adjusted = svgTagNameAdjustments.get(name);
      if (adjusted !== undefined && (this.#open.get(adjusted) ?? 0) > 0) return adjusted;
    }
    if (foreign === Foreign.None) return name === "image" ? "img" : name;
    return name;
  }

  #emitOpenTag(name: string): void {
    this.#tagname = name;
    // A second <form> while one is open is ignored, as the spec (and htmlparser2) do.
    if (name === "form" && (this.#open.get("form") ?? 0) > 0) {
      this.#tagname = "";
      return;
    }
    const impliesClose = openImpliesClose.get(name);
    if (impliesClose) {
      while (this.#stack.length > 0 && impliesClose.has(this.#stack[this.#stack.length - 1])) this.#pop();
    }
    if (!voidElements.has(name)) {
      this.#stack.push(name);
      this.#open.set(name, (this.#open.get(name) ?? 0) + 1);
      if (name === "svg") this.#foreign.push(Foreign.Svg);
      else if (name === "math") this.#foreign.push(Foreign.MathML);
      else if (htmlIntegrationElements.has(name)) this.#foreign.push(Foreign.None);
    }
    this.#attribs = {};
  }

  #endOpenTag(): void {
    if (this.#attribs) {
      this.#cbs.onopentag(this.#tagname, this.#attribs);
      this.#attribs = null;
    }
    if (voidElements.has(this.#tagname)) this.#cbs.onclosetag(this.#tagname);
    this.#tagname = "";
  }

  #closeCurrentTag(): void {
    const name = this.#tagname;
    this.#endOpenTag();
    if (this.#stack.length > 0 && this.#stack[this.#stack.length - 1] === name) this.#pop();
  }

  #pop(): string {
    const element = this.#stack.pop()!;
    this.#open.set(element, this.#open.get(element)! - 1);
    if (foreignContextElements.has(element) || htmlIntegrationElements.has(element)) this.#foreign.pop();
    this.#cbs.onclosetag(element);
    return element;
  }
}
