/* rnn_explain's HTML: one self-contained page - the SVG inline, its CSS, and a few lines of
 * plain JavaScript that show an element's details (its title, layer, step, shape, values) as
 * the pointer moves over it. Nothing is loaded from anywhere else. */
#include <string.h>

#include "error.h"
#include "explain/explain.h"

static const char *page_style =
    "body{margin:0;padding:16px;background:#fafafa;font:14px 'DejaVu Sans Mono',Menlo,Consolas,"
    "monospace;color:#222}"
    "main{background:#fff;border:1px solid #ddd;border-radius:8px;padding:8px;overflow:auto}"
    "#tip{position:fixed;pointer-events:none;max-width:520px;background:#222;color:#fff;"
    "padding:6px 9px;border-radius:5px;font-size:12px;white-space:pre-wrap;display:none;z-index:9}"
    "footer{color:#777;font-size:12px;margin-top:8px}";

/* Shows the hovered element's title and data attributes; heat strips list their values. */
static const char *page_script =
    "(function(){\n"
    "var tip=document.getElementById('tip');\n"
    "function describe(el){\n"
    "  var t=el.querySelector(':scope > title');var s=t?t.textContent:'';\n"
    "  var d=el.dataset;var extra=[];\n"
    "  ['layer','step','shape','returned','batch','row','dir'].forEach(function(k){\n"
    "    if(d[k]!==undefined&&d[k]!=='')extra.push(k+': '+d[k]);});\n"
    "  if(d.values){var v=d.values.split(',');var u=+d.units;var cols=d.cols||'';\n"
    "    for(var c=0;c<v.length/u;c++){var part=v.slice(c*u,c*u+u).map(function(x){\n"
    "      return (+x).toFixed(3);});extra.push((cols[c]||'?')+': '+part.join(' '));}\n"
    "    if(+d.unitsTotal>u)extra.push('(first '+u+' of '+d.unitsTotal+' units)');}\n"
    "  return s+(s&&extra.length?'\\n':'')+extra.join('\\n');}\n"
    "document.querySelectorAll('svg [data-kind]').forEach(function(el){\n"
    "  el.addEventListener('mousemove',function(e){tip.textContent=describe(el);\n"
    "    tip.style.display='block';tip.style.left=(e.clientX+14)+'px';\n"
    "    tip.style.top=(e.clientY+14)+'px';});\n"
    "  el.addEventListener('mouseleave',function(){tip.style.display='none';});});\n"
    "document.body.setAttribute('data-ready','1');\n" /* the script ran to its end */
    "})();\n";

static void esc(FILE *f, const char *s) {
    for (; *s; s++) switch (*s) {
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '&': fputs("&amp;", f); break;
        default: fputc(*s, f);
        }
}

rnn_status rnn__explain_html(const ex_scene *s, FILE *f) {
    fputs("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
          "<meta name=\"viewport\" content=\"width=device-width\">\n<title>", f);
    esc(f, s->title);
    fputs(" - rnn explain</title>\n<style>", f);
    fputs(page_style, f);
    fputs("</style>\n</head>\n<body>\n<main>\n", f);
    rnn_status st = rnn__explain_svg(s, f, 0);
    if (st) return st;
    fputs("</main>\n<div id=\"tip\"></div>\n<footer>Drawn by rnn explain (librnn). Point at a "
          "cell, an arrow or a heat strip for its details.</footer>\n<script>\n", f);
    fputs(page_script, f);
    fputs("</script>\n</body>\n</html>\n", f);
    return ferror(f) ? rnn__fail(RNN_ERR_IO, "rnn_explain: writing the page failed") : RNN_OK;
}
