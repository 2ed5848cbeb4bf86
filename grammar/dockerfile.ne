# One logical Dockerfile instruction: KEYWORD [--flag ...] [--] [rest...].
# Line joining, directives, comments and heredoc bodies are handled before this grammar runs
# (src/parser/lines.ts); argument splitting per instruction happens after it (src/parser/args.ts).
@preprocessor typescript
@{%
import { lexer } from './lexer.js';
import { lineNode, restNode, noRest } from './line-builders.js';
%}
@lexer lexer

line -> keyword flags tail  {% (d) => lineNode(d[0], d[1], d[2]) %}

keyword -> %word     {% (d) => d[0] %}
         | %flag     {% (d) => d[0] %}
         | %dashdash {% (d) => d[0] %}

flags -> null              {% () => [] %}
       | flags %ws %flag   {% (d) => [...d[0], d[2]] %}

tail -> %ws:?                                      {% noRest %}
      | %ws %dashdash %ws:?                        {% noRest %}
      | %ws %dashdash %ws restStart restTokens     {% (d) => restNode(d[3]) %}
      | %ws %word restTokens                       {% (d) => restNode(d[1]) %}

restStart -> %word {% (d) => d[0] %} | %flag {% (d) => d[0] %} | %dashdash {% (d) => d[0] %}

restTokens -> null
            | restTokens (%ws | %word | %flag | %dashdash)
