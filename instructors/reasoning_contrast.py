"""How readable lesson 03's reasoning is beside its answer, by WCAG 2 contrast: the thresholds,
the formula, and the measuring of JupyterLab's pixels that instructors/browser_check.py does in
headless Chromium (its verdict, and the CSS colours of an HTML export: tests/lessons/
test_03_colours.py)."""

import json

# The colours as CSS gives them (an HTML export's styles, tests/lessons/test_03_colours.py):
# - the answer against the background >= 7:1 (WCAG AAA for body text): it is what is read;
# - the reasoning >= 3:1 (WCAG's floor for large text and non-text marks): secondary text,
#   dimmed on purpose, so not held to body text's 4.5:1, but legible (xterm grey 245 on
#   white is 3.5:1);
# - the answer >= 2x the reasoning: a gap the eye sees at once (the 16-colour "bright black",
#   \x1b[90m, #282c36 in JupyterLab's CSS, is 14:1 beside the answer's 16:1: no gap at all).
MIN_ANSWER_CSS = 7
MIN_REASONING_CSS = 3
MIN_ANSWER_OVER_REASONING_CSS = 2
# The same, measured on glyph pixels (browser_check.py): there anti-aliased strokes rarely reach
# the full ink, so the contrasts come out lower than the CSS colours' own, the reasoning's
# (grey 245 on white, 3.5:1 by CSS) and the answer's alike, hence a little slack on both.
MIN_REASONING_CONTRAST = 2.5
MIN_ANSWER_OVER_REASONING = 1.8


# The first output with coloured text (the reasoning) and plain text (the answer): scroll it
# into view and return the screen boxes (CSS pixels) of the glyphs of each, whitespace left out.
REASONING_BOXES_JS = r"""
(async () => {
  const coloured = span => span.getAttribute('style') || /-fg\b/.test(span.className);
  const pre = Array.from(document.querySelectorAll('.jp-Notebook .jp-OutputArea-output pre'))
    .find(node => Array.from(node.querySelectorAll('span')).some(coloured)
      && Array.from(node.childNodes).some(n => n.nodeType === 3 && n.textContent.trim()));
  if (!pre) return null;
  pre.scrollIntoView({block: 'center'});
  await new Promise(done => requestAnimationFrame(() => requestAnimationFrame(done)));
  const boxes = text => {
    const found = [], content = text.textContent, start = content.search(/\S/);
    if (start < 0) return found;
    const range = document.createRange();
    range.setStart(text, start);
    range.setEnd(text, content.trimEnd().length);
    for (const r of range.getClientRects()) {
      if (r.width > 1 && r.height > 1) found.push([r.left, r.top, r.width, r.height]);
    }
    return found;
  };
  const reasoning = [], answer = [];
  for (const node of pre.childNodes) {
    if (node.nodeType === 1 && coloured(node) && node.firstChild) {
      reasoning.push(...boxes(node.firstChild));
    } else if (node.nodeType === 3) {
      answer.push(...boxes(node));
    }
  }
  return {reasoning, answer, colour: getComputedStyle(pre.querySelector('span')).color,
          plain: getComputedStyle(pre).color, scale: window.devicePixelRatio};
})()
"""

# Pixels of the screenshot (a PNG, base64) inside the boxes, decoded by the page's own canvas:
# for each group, the darkest 3% of its pixels (the glyphs' ink) and its median (the paper).
MEASURE_JS = r"""
(async (png, groups, scale) => {
  const image = new Image();
  image.src = 'data:image/png;base64,' + png;
  await image.decode();
  const canvas = document.createElement('canvas');
  canvas.width = image.width;
  canvas.height = image.height;
  const context = canvas.getContext('2d');
  context.drawImage(image, 0, 0);
  const luma = p => 0.2126 * p[0] + 0.7152 * p[1] + 0.0722 * p[2];
  const mean = list => [0, 1, 2].map(i => Math.round(
    list.reduce((sum, p) => sum + p[i], 0) / list.length));
  const result = {};
  for (const [name, boxes] of Object.entries(groups)) {
    const pixels = [];
    for (const [left, top, width, height] of boxes) {
      const x = Math.max(0, Math.floor(left * scale)), y = Math.max(0, Math.floor(top * scale));
      const w = Math.min(image.width - x, Math.ceil(width * scale));
      const h = Math.min(image.height - y, Math.ceil(height * scale));
      if (w <= 0 || h <= 0) continue;
      const data = context.getImageData(x, y, w, h).data;
      for (let i = 0; i < data.length; i += 4) pixels.push([data[i], data[i + 1], data[i + 2]]);
    }
    if (!pixels.length) { result[name] = null; continue; }
    pixels.sort((a, b) => luma(a) - luma(b));
    const ink = pixels.slice(0, Math.max(5, Math.floor(pixels.length * 0.03)));
    result[name] = {ink: mean(ink), paper: pixels[Math.floor(pixels.length / 2)],
                    pixels: pixels.length};
  }
  return result;
})
"""


def luminance(rgb):
    """WCAG 2 relative luminance of an (r, g, b) colour, 0-255 each."""
    def linear(channel):
        channel /= 255
        return channel / 12.92 if channel <= 0.04045 else ((channel + 0.055) / 1.055) ** 2.4
    r, g, b = (linear(c) for c in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(first, second):
    """WCAG 2 contrast ratio of two colours, 1 to 21."""
    light, dark = sorted((luminance(first), luminance(second)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def hex_colour(rgb):
    return "#" + "".join(f"{c:02x}" for c in rgb)


def reasoning_verdict(measured, log=print):
    """Failures (a list of lines) for the measured ink of the reasoning and of the answer."""
    reasoning, answer = measured["reasoning"], measured["answer"]
    paper = answer["paper"]
    on_paper = {name: contrast(measured[name]["ink"], paper) for name in ("reasoning", "answer")}
    log(f"reasoning glyphs {hex_colour(reasoning['ink'])} ({on_paper['reasoning']:.1f}:1), "
        f"answer glyphs {hex_colour(answer['ink'])} ({on_paper['answer']:.1f}:1), "
        f"on {hex_colour(paper)}")
    failures = []
    if on_paper["reasoning"] < MIN_REASONING_CONTRAST:
        failures.append(f"the reasoning is hard to read: {on_paper['reasoning']:.1f}:1 against "
                        f"the background (at least {MIN_REASONING_CONTRAST}:1)")
    if on_paper["answer"] < MIN_ANSWER_OVER_REASONING * on_paper["reasoning"]:
        failures.append(f"the reasoning is not visibly lighter than the answer: "
                        f"{on_paper['reasoning']:.1f}:1 against {on_paper['answer']:.1f}:1 "
                        f"(the answer needs {MIN_ANSWER_OVER_REASONING}x the contrast)")
    return failures


def measure_reasoning(devtools, log=print):
    """Scroll to the reasoning, take the screenshot, and measure it: (png, failures), None for
    the failures where the page shows no reasoning."""
    boxes = devtools.evaluate(REASONING_BOXES_JS)
    png = devtools.call("Page.captureScreenshot", format="png")["data"]
    if not boxes or not boxes["reasoning"] or not boxes["answer"]:
        return png, None
    log(f"reasoning drawn in {boxes['colour']}, the answer in {boxes['plain']} (CSS)")
    groups = {"reasoning": boxes["reasoning"], "answer": boxes["answer"]}
    measured = devtools.evaluate(f"({MEASURE_JS})({json.dumps(png)}, {json.dumps(groups)}, "
                                 f"{boxes['scale']})")
    if not measured["reasoning"] or not measured["answer"]:
        return png, ["the reasoning or the answer is outside the screenshot"]
    return png, reasoning_verdict(measured, log)
