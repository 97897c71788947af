"""bytes -> text -> module: the one place source is read, decoded and parsed.

Data flows one way through bplint: files (``run``) -> source (here) -> facts (``analysis``) ->
rules -> findings (``engine``) -> formatters (``report``). This module imports nothing of bplint's
but the plain data types, so every other module may use it.

- Decoding follows PEP 263 as Python does (``tokenize.detect_encoding``): a UTF-8 BOM or a
  ``# -*- coding: latin-1 -*-`` line; the encoding is kept so a fix writes the file back in it.
- Syntax is checked with CPython's own compiler (``ast``) before libcst sees the text: CPython is
  the judge of what is Python, its messages are the clearest, it is ~12x faster than the libcst
  parse (so even files the pre-filter skips are checked), and it rejects the very deep nesting
  on which libcst's native parser would crash the process.
- Text that is not Python 3 but is meant to run somewhere is recovered without moving anything
  (see ``prepare``): IPython magics and shell escapes (jupytext percent scripts) are masked as in
  notebooks, and Python 2 is rewritten token by token into Python 3 of the same lines.
"""

from __future__ import annotations

import ast
import io
import itertools
import re
import tokenize
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from linter.lines import readline_normalised, split_lines_keepends

if TYPE_CHECKING:
    import libcst as cst

MAX_BYTES = 4 * 1024 * 1024
MAX_NOTEBOOK_BYTES = 64 * 1024 * 1024  # outputs (images) make notebooks big; code is capped apart
_COMPILE_FLAGS = ast.PyCF_ONLY_AST
_COOKIE = re.compile(rb"^[ \t\f]*#.*?coding[:=][ \t]*([-\w.]+)")


class SourceError(Exception):
    """A file that cannot be linted, with a message for the user (no traceback)."""

    def __init__(self, message: str, line: int | None = None, column: int | None = None) -> None:
        super().__init__(message)
        self.line, self.column = line, column


@dataclass(frozen=True)
class SourceText:
    """A file's text as Python reads it, and how to turn edited text back into its bytes."""

    text: str
    bom: bool = False  # written back when a fix rewrites the file
    encoding: str = "utf-8"  # the PEP 263 encoding (without the BOM)

    def encode(self, text: str) -> bytes:
        try:
            body = text.encode(self.encoding)
        except UnicodeEncodeError as exc:
            raise SourceError(f"the fixed text cannot be written as {self.encoding}") from exc
        return (b"\xef\xbb\xbf" if self.bom else b"") + body


def read_bytes(path: Path, limit: int = MAX_BYTES) -> bytes:
    """The bytes of a regular file, refusing oversized and unreadable ones clearly."""
    try:
        size = path.stat().st_size
        if size > limit:
            raise SourceError(f"file is too large to lint ({size} bytes > {limit})")
        return path.read_bytes()
    except OSError as exc:
        raise SourceError(f"cannot read file: {exc.strerror or exc}") from None


def decode_source(data: bytes) -> SourceText:
    """Text as Python decodes it (BOM, PEP 263 cookie, else UTF-8); line endings are kept."""
    if b"\x00" in data:
        raise SourceError("binary file (contains NUL bytes), not Python source")
    bom = data.startswith(b"\xef\xbb\xbf")
    body = data[3:] if bom else data
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
    except SyntaxError as exc:
        line = next((i + 1 for i, ln in enumerate(data.splitlines()[:2]) if _COOKIE.match(ln)), 1)
        raise SourceError(f"bad encoding declaration: {exc.msg}", line) from None
    if encoding == "utf-8-sig":
        encoding = "utf-8"
    try:
        text = body.decode(encoding)
    except UnicodeDecodeError as exc:
        at = exc.start + (3 if bom else 0)
        line = data[:at].count(b"\n") + 1
        name = "UTF-8" if encoding == "utf-8" else encoding
        raise SourceError(f"not valid {name} (byte {at}, line {line})", line) from None
    return SourceText(text, bom, encoding)


def read_source(path: Path) -> str:
    """Read a file as Python would, refusing binary, undecodable and oversized files clearly."""
    return decode_source(read_bytes(path)).text


def check_syntax(text: str, flags: int = 0) -> ast.Module:
    """CPython's verdict on ``text``: its AST, or a ``SourceError`` with Python's message."""
    try:
        return compile(text, "<bplint>", "exec", flags=_COMPILE_FLAGS | flags, dont_inherit=True)
    except SyntaxError as exc:  # IndentationError and TabError included
        line = exc.lineno if exc.lineno is not None else None
        column = (exc.offset or 1) if line is not None else None
        raise SourceError(f"syntax error: {exc.msg}", line, column) from None
    except (RecursionError, MemoryError):
        raise SourceError("syntax error: code nested too deeply to parse") from None
    except ValueError as exc:  # e.g. null bytes; decode_source refuses them first
        raise SourceError(f"cannot parse: {exc}") from None


_LIBCST_AT = re.compile(r"error at (\d+):\d+")

PARTS_MIN_BYTES = 512 * 1024  # a text this long is parsed in parts (``parse``)
PART_LINES = 2_000  # about this many lines a part


@contextmanager
def _unvalidated(node_class: type) -> Iterator[None]:
    """libcst without its per-node checks while it builds a parsed tree.

    Every node libcst constructs calls ``_validate`` (``CSTNode.__post_init__``), which checks
    that hand-built trees are consistent (parentheses paired, required whitespace present): a
    fifth of a parse's time, spent re-proving what the parser and CPython's compiler (run
    first) have established (libcst's own note there says as much). The checks are pure (no
    node is changed), so the tree is the same; nodes the analysis or a fix builds afterwards are
    checked as before. Parsing happens on one thread at a time (``run.on_deep_stack``)."""
    own = node_class.__dict__.get("__post_init__")
    if own is None:  # a libcst that no longer validates this way: nothing to skip
        yield
        return
    node_class.__post_init__ = _no_checks  # type: ignore[attr-defined]
    try:
        yield
    finally:
        node_class.__post_init__ = own  # type: ignore[attr-defined]


def _no_checks(self: object) -> None:
    return None


def statement_spans(text: str, tree: ast.Module) -> tuple[tuple[int, int], ...] | None:
    """The first and last lines of each top-level statement of a big text (its decorators
    included), from CPython's AST; None for a text shorter than ``PARTS_MIN_BYTES`` or one with
    a carriage return (CPython and libcst number such lines alike, but parts are cut by
    ``\n`` alone)."""
    if len(text) < PARTS_MIN_BYTES or "\r" in text:
        return None
    spans = []
    for node in tree.body:
        first = min([node.lineno, *(d.lineno for d in getattr(node, "decorator_list", ()))])
        last = node.end_lineno
        if last is None:
            return None
        spans.append((first, last))
    return tuple(spans)


def _cuts(lines: list[str], spans: tuple[tuple[int, int], ...]) -> list[int]:
    """0-based line numbers at which a part ends and the next begins: right after a statement,
    when every line up to the next statement is empty or a comment at column 0 (libcst gives
    those to the next statement, as a part's first lines; a line indented at all may belong
    to the block before it, so no cut is made there)."""
    cuts: list[int] = []
    start = 0
    for (_, end), (nxt, _) in itertools.pairwise(spans):
        if end >= nxt or end - start < PART_LINES:
            continue
        if all(line == "\n" or line.startswith("#") for line in lines[end : nxt - 1]):
            cuts.append(end)
            start = end
    return cuts


def _parse_parts(source: str, spans: tuple[tuple[int, int], ...]) -> cst.Module | None:
    """The module ``cst.parse_module(source)`` gives, parsed a few thousand lines at a time:
    libcst's native parser needs ~600 bytes per source byte while it runs (1.6 GB for a
    3.4 MB module), a part only its own. Each part after the first is parsed after a ``pass``
    that takes the place of the statements before it (so its first lines are leading lines, as
    in the whole) and contributes its statements; the module keeps the first part's header and
    layout and the last part's footer. None (parse the whole) when a part does not read as a
    piece of the whole: another indentation or line break, a footer before the end."""
    import libcst as cst

    lines = split_lines_keepends(source)
    cuts = _cuts(lines, spans)
    if not cuts:
        return None
    bounds = [0, *cuts, len(lines)]
    parts = []
    for k, (a, b) in enumerate(itertools.pairwise(bounds)):
        text = "".join(lines[a:b])
        try:
            parts.append(cst.parse_module(text if k == 0 else "pass\n" + text))
        except cst.ParserSyntaxError:
            return None  # the whole text's parse says where, with the file's line numbers
    first, last = parts[0], parts[-1]
    body = list(first.body)
    for k, part in enumerate(parts):
        if (
            part.default_indent != first.default_indent
            or part.default_newline != first.default_newline
            or part.encoding != first.encoding
        ):
            return None
        if part is not last and (part.footer or not part.has_trailing_newline):
            return None
        if k == 0:
            continue
        lead = part.body[0] if part.body else None
        if (
            part.header
            or not isinstance(lead, cst.SimpleStatementLine)
            or lead.leading_lines
            or len(lead.body) != 1
            or not isinstance(lead.body[0], cst.Pass)
        ):
            return None
        body.extend(part.body[1:])
    return first.with_changes(
        body=body, footer=last.footer, has_trailing_newline=last.has_trailing_newline
    )


def parse(
    source: str,
    flags: int = 0,
    checked: bool = False,
    spans: tuple[tuple[int, int], ...] | None = None,
) -> cst.Module:
    """The libcst module of text CPython accepts; anything else is a ``SourceError``.

    CPython compiles first: libcst's native parser crashes the whole process on nesting CPython
    rejects (1,500 parentheses), so it never sees such text. ``checked``: the caller has
    compiled the text (or its parts, as notebook cells) already. ``spans``: a big text's
    top-level statements (``statement_spans``); the text is then parsed in parts, to the same
    module (``tests/test_scaling.py`` compares them).
    """
    import libcst as cst  # here, not at the top: a file no rule can flag never loads the parser

    if not checked:
        check_syntax(source, flags)
    try:
        with _unvalidated(cst.CSTNode):
            if spans:
                whole = _parse_parts(source, spans)
                if whole is not None:
                    return whole
            return cst.parse_module(source)
    except cst.ParserSyntaxError as exc:
        # CPython accepted the text: this is a limit of libcst's grammar (e.g. a parenthesised
        # annotation target `(x): int`), not the user's syntax error; say so.
        msg = str(exc.message).strip().splitlines()[0] if exc.message else "invalid syntax"
        line, column = exc.raw_line, exc.raw_column + 1
        at = _LIBCST_AT.search(msg)  # its own position can be a line late; the message's is not
        if at is not None and int(at.group(1)) != line:
            line, column = int(at.group(1)), 1
        raise SourceError(
            f"not analysed: valid Python that bplint's parser (libcst) cannot read: {msg}",
            line,
            column,
        ) from None
    except (RecursionError, MemoryError):
        raise SourceError("syntax error: code nested too deeply to parse") from None


# --- IPython syntax ---------------------------------------------------------------------------

PYTHON_BODY_CELL_MAGICS = frozenset({"time", "timeit", "capture", "prun", "debug"})
_MAGIC = re.compile(r"^[ \t]*[%!]")
_HELP = re.compile(r"^[ \t]*(?:\?{1,2}[\w.*\[\]]+|[\w.*\[\]]*[\w\]*]\?{1,2})[ \t]*$")
_ASSIGN = re.compile(r"^(?P<lhs>[ \t]*[\w.\[\]()*, \t]*?[\w\])][ \t]*=)[ \t]*[%!]")
_CELL_MAGIC = re.compile(r"^%%(?P<name>\w+)")


def split_lines(text: str) -> list[str]:
    """Physical lines with their line breaks (``\\r\\n``, ``\\r`` or ``\\n``)."""
    return split_lines_keepends(text)


def _readline(text: str):
    """``tokenize``'s readline over ``text``, lines numbered as the parser numbers them (a lone
    ``\\r`` ends a line; ``StringIO.readline`` would not split there)."""
    lines = readline_normalised(text)
    return lambda: next(lines, "")


def _body(line: str) -> tuple[str, str]:
    """(content, line ending) of a physical line."""
    stripped = line.rstrip("\r\n")
    return stripped, line[len(stripped) :]


def mask_magics(source: str) -> tuple[str, frozenset[int]]:
    """IPython syntax replaced by Python of the same line count; returns (text, masked lines).

    ``%line`` magics, ``!shell`` commands, ``x = !cmd`` / ``x = %magic`` assignments and
    ``obj?`` / ``?obj`` help become ``pass`` (or ``x = None``) on the same line; a leading cell
    magic (``%%bash`` ...) blanks everything after it (``%%time`` and friends keep their body).
    """
    lines = split_lines(source)
    if not lines:
        return "", frozenset()
    first = next((i for i, ln in enumerate(lines) if ln.strip()), None)
    if first is not None:
        m = _CELL_MAGIC.match(lines[first].lstrip())
        if m:
            if m.group("name") not in PYTHON_BODY_CELL_MAGICS:
                masked = "".join(_body(ln)[1] or "\n" for ln in lines)
                return masked, frozenset(range(1, len(lines) + 1))
            lines[first] = _body(lines[first])[1] or "\n"
            return _mask_lines(lines, {first + 1})
    return _mask_lines(lines, set())


def _replacement(content: str) -> str | None:
    """What a line of IPython syntax becomes, or None if it does not look like any."""
    assign = _ASSIGN.match(content)
    if assign:
        return assign.group("lhs") + " None"
    if _MAGIC.match(content) or _HELP.match(content):
        return content[: len(content) - len(content.lstrip())] + "pass"
    return None


def _mask_lines(lines: list[str], already: set[int]) -> tuple[str, frozenset[int]]:
    """Mask the candidate lines that start a logical line, deciding from the top down.

    Whether a line starts a logical line depends on the lines above it (an open bracket, a
    string, a trailing backslash), with the magics above already masked.
    """
    out = list(lines)
    masked = set(already)
    i = 0
    while i < len(lines):
        content, end = _body(lines[i])
        replacement = None if i + 1 in already else _replacement(content)
        if replacement is not None and _starts_logical_line("".join(out[:i]), replacement, i + 1):
            out[i] = replacement + end
            masked.add(i + 1)
            while content.endswith("\\") and i + 1 < len(lines):  # a magic continued with `\`
                i += 1
                content, end = _body(lines[i])
                out[i] = end or "\n"
                masked.add(i + 1)
        i += 1
    return "".join(out), frozenset(masked)


def _starts_logical_line(prefix: str, replacement: str, line: int) -> bool:
    """Would ``replacement``, placed after ``prefix``, start a logical line of its own?

    False inside a bracket, a string or after a backslash; True if the prefix does not even
    tokenize (then the masking cannot make it worse).
    """
    probe = prefix + replacement + "\n"
    previous = None
    try:
        for tok in tokenize.generate_tokens(_readline(probe)):
            if tok.type in (tokenize.NL, tokenize.COMMENT, tokenize.INDENT, tokenize.DEDENT):
                continue
            if tok.start[0] >= line:
                return previous is None or previous.type == tokenize.NEWLINE
            previous = tok
    except tokenize.TokenError:
        return False  # end of input inside a bracket or a string
    except (IndentationError, SyntaxError):
        return True
    return True


# --- Python 2 ---------------------------------------------------------------------------------

_STATEMENT_ENDS = (tokenize.NEWLINE, tokenize.ENDMARKER, tokenize.COMMENT)
_SKIP = (tokenize.NL, tokenize.COMMENT)
_UR_PREFIX = re.compile(r"^[uU][rR]$")
_SYNTAX = frozenset({tokenize.NAME, tokenize.NUMBER, tokenize.STRING, tokenize.OP})
_EditT = tuple[int, int, int, str]  # (line, start column, end column, replacement), 0-based


@dataclass(frozen=True)
class LineShift:
    """Where a rewrite changed a line's length: text ``[new_start, new_end)`` replaced
    ``[old_start, old_end)`` (0-based columns)."""

    new_start: int
    new_end: int
    old_start: int
    old_end: int


def python2_to_3(text: str) -> tuple[str, dict[int, tuple[LineShift, ...]]] | None:
    """Python 2 syntax rewritten into Python 3 of the same lines, or None if it cannot be.

    Token by token (nothing is re-indented or re-wrapped): ``print x`` -> ``print(x)``,
    ``print >>f, x`` -> ``print(  f, x)``, ``exec code in ns`` -> ``exec(code , ns)``,
    ``except E, e:`` -> ``except E as e:``, ``raise E, msg`` -> ``raise E( msg)``,
    backticks -> parentheses, ``<>`` -> ``!=``, ``0777`` -> ``511 `` (its value), ``10L`` ->
    ``10 ``, ``ur''`` -> `` r''``, tuple parameters ``lambda (k, v): v`` -> ``lambda  k, v : v``
    (the parentheses blanked; ``def f((a, b), c)`` likewise). Most replacements keep their length; the rest shift the
    columns after them on their line, and the shifts are returned (line -> shifts) so positions
    can be mapped back to the original text. Values and names are kept, semantics only as far
    as the analysis cares (a backticked value is read as the value itself).
    """
    try:
        tokens = list(tokenize.generate_tokens(_readline(text)))
    except (tokenize.TokenError, SyntaxError):
        return None
    future_print = bool(re.search(r"from\s+__future__\s+import[^\n]*print_function", text))
    edits: list[_EditT] = []
    sig = [
        t
        for t in tokens
        if (t.type not in _SKIP and t.type != tokenize.ERRORTOKEN) or t.string == "`"
    ]
    backtick_open = False
    prev = None
    for i, tok in enumerate(sig):
        nxt = sig[i + 1] if i + 1 < len(sig) else None
        (row, col), ecol = tok.start, tok.end[1]
        if tok.string == "`":
            edits.append((row, col, ecol, ")" if backtick_open else "("))
            backtick_open = not backtick_open
        elif tok.type == tokenize.OP and tok.string == "<" and _adjacent(tok, nxt, ">"):
            edits.append((row, col, col + 2, "!="))
        elif tok.type == tokenize.NUMBER:
            _number(tok, nxt, sig[i + 2] if i + 2 < len(sig) else None, prev, edits)
        elif tok.type == tokenize.NAME and _UR_PREFIX.match(tok.string) and nxt is not None:
            if nxt.type == tokenize.STRING and nxt.start == tok.end:
                edits.append((row, col, ecol, " " + tok.string[1]))
        elif tok.type == tokenize.NAME and tok.string == "lambda":
            _tuple_params(sig, i + 1, edits, depth=0)
        elif tok.type == tokenize.NAME and tok.string == "def" and _statement_start(prev):
            if i + 2 < len(sig) and sig[i + 2].string == "(":
                _tuple_params(sig, i + 3, edits, depth=1)
        elif tok.type == tokenize.NAME and _statement_start(prev):
            if tok.string == "print" and not future_print:
                _call_statement(sig, i, edits, in_keyword=False)
            elif tok.string == "exec":
                _call_statement(sig, i, edits, in_keyword=True)
            elif tok.string == "except":
                _except_comma(sig, i, edits)
            elif tok.string == "raise":
                _raise_comma(sig, i, edits)
        prev = tok
    _comprehension_tuples(sig, edits)
    if not edits:
        return None
    return _apply(text, edits)


def _comprehension_tuples(sig: list, edits: list[_EditT]) -> None:
    """``[f for f in a, b]`` -> ``[f for f in(a, b)]``: Python 2 lets a list comprehension's
    ``in`` take a bare tuple (``testlist_safe``); Python 3 wants it in parentheses. The tuple
    runs from after ``in`` to the next ``for`` or ``if`` of the comprehension or its ``]``, and
    is wrapped only if it has a comma of its own. A space next to it becomes the parenthesis
    (the columns stay); otherwise the parenthesis is inserted."""
    # per open bracket: [bracket, a ``for`` waits for its ``in``, index of the token after it]
    stack: list[list] = []
    for j, tok in enumerate(sig):
        if tok.type == tokenize.OP and tok.string in ("(", "[", "{"):
            stack.append([tok.string, False, None])
            continue
        if not stack:
            continue
        top = stack[-1]
        ends = tok.type == tokenize.OP and tok.string in (")", "]", "}")
        clause = tok.type == tokenize.NAME and tok.string in ("for", "if")
        if top[2] is not None and (ends or clause):
            _wrap_tuple(sig, top[2], j, edits)
            top[2] = None
        if ends:
            stack.pop()
        elif top[0] == "[" and tok.type == tokenize.NAME and tok.string == "for":
            top[1] = True
        elif top[1] and tok.type == tokenize.NAME and tok.string == "in":
            top[1] = False
            if j + 1 < len(sig):
                top[2] = j + 1


def _wrap_tuple(sig: list, first: int, stop: int, edits: list[_EditT]) -> None:
    """Parenthesise ``sig[first:stop]`` if it holds a comma at its own bracket depth."""
    if stop <= first:
        return
    depth, comma = 0, False
    for t in sig[first:stop]:
        if depth == 0 and t.type == tokenize.OP and t.string == ",":
            comma = True
        depth += _depth_change(t)
    if not comma:
        return
    start, before = sig[first], sig[first - 1]
    (row, col) = start.start
    if before.end[0] == row and before.end[1] < col:
        edits.append((row, col - 1, col, "("))
    else:
        edits.append((row, col, col, "("))
    last, after = sig[stop - 1], sig[stop]
    (erow, ecol) = last.end
    if after.start[0] == erow and after.start[1] > ecol:
        edits.append((erow, ecol, ecol + 1, ")"))
    else:
        edits.append((erow, ecol, ecol, ")"))


def _adjacent(tok: tokenize.TokenInfo, nxt: tokenize.TokenInfo | None, string: str) -> bool:
    return nxt is not None and nxt.string == string and nxt.start == tok.end


def _statement_start(prev: tokenize.TokenInfo | None) -> bool:
    if prev is None or prev.type in (tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT):
        return True
    return prev.type == tokenize.OP and prev.string in (";", ":")


def _number(tok, nxt, after, prev, edits: list[_EditT]) -> None:
    (row, col), (_, ecol) = tok.start, tok.end
    if prev is not None and prev.type == tokenize.NUMBER and prev.end == tok.start:
        return  # the digits of an octal literal, handled with its leading 0
    end, digits = ecol, None
    if re.fullmatch(r"0+", tok.string) and nxt is not None and nxt.type == tokenize.NUMBER:
        if nxt.start == tok.end and re.fullmatch(r"[0-7]+", nxt.string):
            digits, end, nxt = nxt.string, nxt.end[1], after
    long_suffix = (
        nxt is not None and nxt.type == tokenize.NAME and nxt.string in ("L", "l")
    ) and nxt.start == (row, end)
    if long_suffix:
        end += 1
    if digits is not None:
        value = str(int(digits, 8))
        edits.append((row, col, end, value + " " * (end - col - len(value))))
    elif long_suffix:
        edits.append((row, end - 1, end, " "))


def _depth_change(tok: tokenize.TokenInfo) -> int:
    if tok.type != tokenize.OP:
        return 0
    return (tok.string in "([{") - (tok.string in ")]}") if len(tok.string) == 1 else 0


def _statement_end(sig: list, i: int) -> int:
    """Index of the last token of the simple statement whose first token is ``sig[i]``."""
    depth = 0
    j = i
    while j + 1 < len(sig):
        nxt = sig[j + 1]
        if depth == 0 and (
            nxt.type in _STATEMENT_ENDS or (nxt.type == tokenize.OP and nxt.string == ";")
        ):
            return j
        depth = max(0, depth + _depth_change(nxt))
        j += 1
    return j


def _call_statement(sig: list, i: int, edits: list[_EditT], in_keyword: bool) -> None:
    """``print x`` / ``exec code in ns``: the statement's operands become call arguments."""
    tok = sig[i]
    nxt = sig[i + 1] if i + 1 < len(sig) else None
    if nxt is None:
        return
    row, ecol = tok.end
    if nxt.type in _STATEMENT_ENDS or (nxt.type == tokenize.OP and nxt.string == ";"):
        if tok.string == "print":
            edits.append((row, ecol, ecol, "()"))
        return
    if nxt.type == tokenize.OP and (
        nxt.string in ("(", "=", ".", ",", ")")
        or (nxt.string.endswith("=") and nxt.string not in ("==", "<=", ">=", "!="))
    ):
        return  # already a call, or print used as a name (``print [x]`` prints a list)
    if nxt.start[0] == row and nxt.start[1] > ecol:
        edits.append((row, ecol, ecol + 1, "("))
    else:
        edits.append((row, ecol, ecol, "("))
    if tok.string == "print" and nxt.type == tokenize.OP and nxt.string == ">>":
        edits.append((nxt.start[0], nxt.start[1], nxt.end[1], "  "))
    last = _statement_end(sig, i)
    if in_keyword:
        depth = 0
        for t in sig[i + 1 : last + 1]:
            if depth == 0 and t.type == tokenize.NAME and t.string == "in":
                edits.append((t.start[0], t.start[1], t.end[1], ", "))
            depth += _depth_change(t)
    end_row, end_col = sig[last].end
    edits.append((end_row, end_col, end_col, ")"))


def _first_comma(sig: list, i: int, stop: str | None) -> tokenize.TokenInfo | None:
    """The first ``,`` at bracket depth 0 after ``sig[i]``, before ``stop`` or the statement end."""
    depth = 0
    for t in sig[i + 1 : _statement_end(sig, i) + 1]:
        if depth == 0 and t.type == tokenize.OP and t.string == stop:
            return None
        if depth == 0 and t.type == tokenize.OP and t.string == ",":
            return t
        depth += _depth_change(t)
    return None


def _tuple_params(sig: list, i: int, edits: list[_EditT], depth: int) -> None:
    """Blank the parentheses of Python 2 tuple parameters in a parameter list starting at
    ``sig[i]`` (``depth`` 0 for a lambda's, ending at its ``:``; 1 inside a ``def``'s ``(``)."""
    outer = depth
    at_start = True  # at the start of a parameter
    tuple_depth = 0  # inside a tuple parameter: every parenthesis is its own
    for t in sig[i:]:
        if t.type in _STATEMENT_ENDS:
            return
        if tuple_depth:
            if t.string in "()" and t.type == tokenize.OP:
                edits.append((t.start[0], t.start[1], t.end[1], " "))
                tuple_depth += 1 if t.string == "(" else -1
            continue
        if depth == outer and t.type == tokenize.OP and t.string == "(" and at_start:
            edits.append((t.start[0], t.start[1], t.end[1], " "))
            tuple_depth = 1
            continue
        if depth == outer and t.type == tokenize.OP and t.string == ":" and outer == 0:
            return
        depth += _depth_change(t)
        if depth < outer:
            return
        at_start = depth == outer and t.string == ","
    return


def _except_comma(sig: list, i: int, edits: list[_EditT]) -> None:
    """``except E, e:`` -> ``except E as e:``."""
    depth = 0
    for t in sig[i + 1 :]:
        if depth == 0 and t.type == tokenize.OP and t.string == ":":
            return
        if depth == 0 and t.type == tokenize.OP and t.string == ",":
            edits.append((t.start[0], t.start[1], t.end[1], " as"))
            return
        if t.type in _STATEMENT_ENDS:
            return
        depth += _depth_change(t)


def _raise_comma(sig: list, i: int, edits: list[_EditT]) -> None:
    """``raise E, msg`` -> ``raise E( msg)``."""
    comma = _first_comma(sig, i, None)
    if comma is None:
        return
    edits.append((comma.start[0], comma.start[1], comma.end[1], "("))
    end_row, end_col = sig[_statement_end(sig, i)].end
    edits.append((end_row, end_col, end_col, ")"))


def _apply(text: str, edits: list[_EditT]) -> tuple[str, dict[int, tuple[LineShift, ...]]]:
    lines = split_lines(text)
    by_line: dict[int, list[_EditT]] = {}
    for e in edits:
        by_line.setdefault(e[0], []).append(e)
    shifts: dict[int, tuple[LineShift, ...]] = {}
    for row, row_edits in by_line.items():
        line = lines[row - 1]
        out, last, delta, moved = [], 0, 0, []
        for _, start, end, new in sorted(row_edits, key=lambda e: (e[1], e[2])):
            if start < last:
                continue  # overlapping edits cannot happen by construction; never apply two
            out.append(line[last:start])
            out.append(new)
            if len(new) != end - start:
                moved.append(LineShift(start + delta, start + delta + len(new), start, end))
            delta += len(new) - (end - start)
            last = end
        out.append(line[last:])
        lines[row - 1] = "".join(out)
        if moved:
            shifts[row] = tuple(moved)
    return "".join(lines), shifts


def original_column(shifts: tuple[LineShift, ...], column: int) -> int:
    """A 0-based column in the rewritten line -> the column in the original line."""
    for s in reversed(shifts):
        if column >= s.new_end:
            return column - (s.new_end - s.old_end)
        if column >= s.new_start:
            return s.old_start + min(column - s.new_start, s.old_end - s.old_start)
    return column


# --- all together -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Prepared:
    """The text the analysis parses: the file's own, or a same-lines recovery of it."""

    text: str
    # where a big text's top-level statements start and end (``statement_spans``), for a
    # parse in parts; CPython's AST itself is not kept (nothing reads it: in a big file it held
    # ~150 bytes per source byte for the whole lint)
    spans: tuple[tuple[int, int], ...] | None = None
    python2: bool = False
    masked: frozenset[int] = frozenset()  # lines whose IPython syntax was masked
    shifts: dict[int, tuple[LineShift, ...]] | None = None  # Python 2 rewrites that moved text

    def column(self, line: int, column: int) -> int:
        """A 1-based column in ``text`` -> the column in the file."""
        if not self.shifts or line not in self.shifts:
            return column
        return original_column(self.shifts[line], column - 1) + 1

    @property
    def notes(self) -> list[str]:
        if self.python2:
            return ["read as Python 2 (rewritten in place to Python 3 for linting; no fixes)"]
        return []


def prepare(text: str, flags: int = 0) -> Prepared:
    """``text`` checked by CPython; if it is not Python 3, a recovery of the same lines.

    Tried in order, each only if the previous does not compile: the text itself; IPython
    magics and shell escapes masked (jupytext percent scripts); Python 2 rewritten (after the
    masking). If none compiles, the error is Python 3's error on the text itself.
    """
    try:
        return Prepared(text, statement_spans(text, check_syntax(text, flags)))
    except SourceError as first:
        error = first
    masked_text, masked = mask_magics(text)
    if masked:
        try:
            tree = check_syntax(masked_text, flags)
            return Prepared(masked_text, statement_spans(masked_text, tree), masked=masked)
        except SourceError:
            pass
    else:
        masked_text = text
    rewritten = python2_to_3(masked_text)
    if rewritten is not None:
        new_text, shifts = rewritten
        try:
            tree = check_syntax(new_text, flags)
        except SourceError:
            pass
        else:
            spans = statement_spans(new_text, tree)
            return Prepared(new_text, spans, python2=True, masked=masked, shifts=shifts)
    raise error
