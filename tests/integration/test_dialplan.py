"""conf/extensions_vagent.conf, the Asterisk dialplan samples (issue 11, item 5).

No Asterisk runs here, so this reads the file the way Asterisk's config
parser does: a ';' not escaped as '\\;' starts a comment wherever it is. A
';' inside NoOp(...) once cut a line short, which Asterisk only reported at
reload ("No closing parenthesis found"). Every line must therefore have its
(), ${} and $[] balanced once its comment is gone, and the samples must keep
what a real Asterisk 22.10.1 taught us: no /tmp (Asterisk's unit has a
private one), ${UUID()} rather than a shell, the dnid fallback for the DID
wherever the DID is used, and one variable naming the context directory,
the same one vagent.conf names."""
import os
import re

from harness import ROOT

DIALPLAN = os.path.join(ROOT, "conf", "extensions_vagent.conf")
CONF = os.path.join(ROOT, "conf", "vagent.conf")
OPEN = {"(": ")", "{": "}", "[": "]"}


def strip_comment(line):
    """The line as Asterisk keeps it: up to the first unescaped ';'."""
    i = 0
    while i < len(line):
        if line[i] == "\\":
            i += 2
            continue
        if line[i] == ";":
            return line[:i]
        i += 1
    return line


def unbalanced(text):
    """None if (), {} and [] nest properly in text, else what is wrong."""
    stack = []
    for i, ch in enumerate(text):
        if ch in OPEN:
            stack.append(ch)
        elif ch in OPEN.values():
            if not stack or OPEN[stack.pop()] != ch:
                return "unexpected %r at column %d" % (ch, i + 1)
    return "unclosed %r" % stack[-1] if stack else None


def statements():
    """(line number, text) of every line that is not only a comment."""
    out = []
    with open(DIALPLAN) as f:
        for n, line in enumerate(f, 1):
            code = strip_comment(line.rstrip("\n")).strip()
            if code:
                out.append((n, code))
    return out


def test_checker_catches_a_semicolon_inside_parentheses():
    # The very line that Asterisk 22.10.1 warned about.
    bad = " same => n,NoOp(vagent: cloud agent: ${DIALSTATUS}; ringing the fallback)"
    assert unbalanced(strip_comment(bad)) == "unclosed '('"
    assert unbalanced(strip_comment(bad.replace(";", "\\;"))) is None


def test_every_line_balanced_once_comments_are_gone():
    problems = ["line %d: %s: %s" % (n, unbalanced(code), code)
                for n, code in statements() if unbalanced(code)]
    assert not problems, "\n".join(problems)


def test_every_context_used_is_defined_here():
    contexts = set(re.findall(r"^\[([^\]]+)\]", open(DIALPLAN).read(), re.M))
    used = set()
    for _, code in statements():
        used |= set(re.findall(r"\b(?:Goto|Gosub)\(([\w-]+),", code))
        used |= set(re.findall(r"\bb\(([\w-]+)\^", code))
    assert used - contexts == {"ringgroup-fallback"}  # the site's own ring group
    for name in ("vagent-local-first", "vagent-local-first-hd", "vagent-local-only",
                 "vagent-cloud-only"):
        assert name in contexts


def test_no_tmp_no_shell_uuid():
    code = "\n".join(c for _, c in statements())
    assert "/tmp" not in code
    assert "SHELL(" not in code and "uuidgen" not in code
    assert "${UUID()}" in code


def test_did_always_has_the_dnid_fallback():
    for n, code in statements():
        if "${DID}" in code:
            assert "${CALLERID(dnid)}" in code, "line %d uses ${DID} alone: %s" % (n, code)
    # Every context that dials or writes the DID computes it first.
    text = open(DIALPLAN).read()
    for ctx in re.split(r"^(?=\[)", text, flags=re.M):
        if "${VA_DID}" in ctx and not ctx.startswith("[vagent-did]"):
            assert "Gosub(vagent-did,s,1)" in ctx or "Gosub(vagent-prepare,s,1)" in ctx, \
                ctx.splitlines()[0]


def test_one_context_directory_matching_vagent_conf():
    code = [c for _, c in statements()]
    sets = [c for c in code if "Set(VA_CONTEXT_DIR=" in c]
    assert len(sets) == 1, sets
    default = re.search(r":(/[^)]+)\)\}\)$", sets[0]).group(1)
    paths = [c for c in code if "va_${VA_UUID}.json" in c]
    assert paths and all("${VA_CONTEXT_DIR}/va_${VA_UUID}.json" in c for c in paths)
    conf = re.search(r"^context_dir = (\S+)$", open(CONF).read(), re.M).group(1)
    assert default == conf == "/var/spool/vagent"
