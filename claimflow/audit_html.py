"""The audit as one self-contained HTML page an auditor can file: inline CSS, no scripts,
no external assets; every value escaped (Jinja2 autoescape)."""

from jinja2 import Environment

from claimflow.audit import Audit

PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>Audit of claim {{ a.claim_number }}</title>
<style>
body { font: 14px/1.45 system-ui, sans-serif; margin: 2em auto; max-width: 70em; color: #222; }
h1 { font-size: 1.5em; } h2 { font-size: 1.15em; margin-top: 2em; border-bottom: 1px solid #ccc; }
table { border-collapse: collapse; width: 100%; margin: .5em 0; }
th, td { text-align: left; vertical-align: top; padding: .25em .5em; border-bottom: 1px solid #eee; }
th { background: #f4f4f4; } code { font-size: .92em; word-break: break-all; }
.ok { color: #0a6b2d; font-weight: bold; } .bad { color: #b00020; font-weight: bold; }
.clause { margin: .2em 0 .2em 1em; color: #444; } .muted { color: #777; }
</style></head><body>
<h1>Audit of claim {{ a.claim_number }}</h1>
<p>Policy {{ a.policy or "?" }} · workflow type {{ a.workflow_type }} · state {{ a.state or "?" }} ·
read from {{ a.source }} · {{ a.integrity.runs|length }} run(s)</p>

<h2>Verdict</h2>
<p class="{{ 'ok' if a.verdict.clean else 'bad' }}">{{ a.verdict.text }}</p>
<p class="{{ 'ok' if a.recomputation_ok else 'bad' }}">recomputation:
{{ "all recomputed decisions match" if a.recomputation_ok else "decisions differ from their recomputation" }}</p>

<h2>Decision trail</h2>
<table><tr><th>#</th><th>time (UTC)</th><th>decision</th><th>outcome</th><th>reason, inputs and clauses</th></tr>
{% for d in a.trail %}<tr><td>{{ loop.index0 }}</td><td>{{ t(d.at) }}</td><td>{{ d.what }}</td><td>{{ d.outcome }}</td>
<td>{{ d.reason }}{% if d.inputs %}<div class="muted">{% for k, v in d.inputs.items() %}{{ k }}={{ v }}{{ ", " if not loop.last }}{% endfor %}</div>{% endif %}
{% for cid, text in d.clauses.items() %}<div class="clause"><b>{{ cid }}</b>: {{ text }}</div>{% endfor %}</td></tr>
{% endfor %}</table>

<h2>Recomputation check</h2>
<table><tr><th>#</th><th>decision</th><th>result</th><th>recorded</th><th>recomputed</th><th>note</th></tr>
{% for r in a.recomputation %}<tr><td>{{ r.index }}</td><td>{{ r.what }}</td>
<td class="{{ 'ok' if r.status == 'match' else ('bad' if r.status == 'mismatch' else 'muted') }}">{{ r.status }}</td>
<td>{{ r.recorded_outcome }} [{{ r.recorded_clause_ids|join(", ") }}]</td>
<td>{% if r.recomputed_outcome is not none %}{{ r.recomputed_outcome }} [{{ r.recomputed_clause_ids|join(", ") }}]{% endif %}</td>
<td>{{ r.note }}</td></tr>
{% endfor %}</table>

<h2>Clock ledger</h2>
{% for l in a.ledger %}<h3>{{ l.kind }} #{{ l.cycle }} — {{ l.status }}</h3>
<p>started {{ t(l.started_at) }}, due {{ t(l.due_at) }}; clauses {{ l.clause_ids|join(", ") }}</p>
<table><tr><th>time (UTC)</th><th>event</th><th>detail</th><th>by</th></tr>
{% for e in l.entries %}<tr><td>{{ t(e.at) }}</td><td>{{ e.event }}</td><td>{{ e.detail }}</td><td>{{ e.by or "" }}</td></tr>
{% endfor %}</table>
{% endfor %}

<h2>Timeline</h2>
{% if not a.timeline_complete %}<p class="muted">only the newest entries were kept in the archived view</p>{% endif %}
<table><tr><th>time (UTC)</th><th>kind</th><th>by</th><th>what</th></tr>
{% for e in a.timeline %}<tr><td>{{ t(e.at) }}</td><td>{{ e.kind }}</td><td>{{ e.by or "" }}</td><td>{{ e.summary }}</td></tr>
{% endfor %}</table>

<h2>Refused attempts</h2>
{% if a.refused_note %}<p class="muted">{{ a.refused_note }}</p>{% endif %}
{% if a.refused %}<table><tr><th>time (UTC)</th><th>by</th><th>action</th><th>reason</th></tr>
{% for r in a.refused %}<tr><td>{{ t(r.at) }}</td><td>{{ r.by }}</td><td>{{ r.action }}</td><td>{{ r.reason }}</td></tr>
{% endfor %}</table>{% else %}<p>none recorded</p>{% endif %}

<h2>Notifications and delivery</h2>
{% if a.notifications %}<table><tr><th>time (UTC)</th><th>kind</th><th>what</th></tr>
{% for e in a.notifications %}<tr><td>{{ t(e.at) }}</td><td>{{ e.kind }}</td><td>{{ e.summary }}</td></tr>
{% endfor %}</table>{% else %}<p>none</p>{% endif %}

<h2>Integrity</h2>
<table>
<tr><th>history sha256 (as fetched or archived)</th><td><code>{{ a.integrity.history_sha256 }}</code></td></tr>
<tr><th>history sha256 (canonical JSON)</th><td><code>{{ a.integrity.history_canonical_sha256 }}</code></td></tr>
<tr><th>policy snapshot sha256</th><td><code>{{ a.integrity.policy_sha256 or "no policy snapshot" }}</code></td></tr>
<tr><th>replayed by</th><td>{{ a.integrity.code_version }}</td></tr>
{% for r in a.integrity.runs %}<tr><th>run {{ r.run_id }}</th><td>{{ r.workflow_type }}, {{ r.events }} events,
sha256 <code>{{ r.sha256 }}</code> (canonical <code>{{ r.canonical_sha256 }}</code>){% if r.archive_sha256_matches is not none %};
archive's sha256 {{ "matches" if r.archive_sha256_matches else "DOES NOT MATCH" }}{% endif %}</td></tr>
{% endfor %}</table>
</body></html>
"""


def _time(moment) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S") if moment else ""


def audit_html(audit: Audit) -> str:
    env = Environment(autoescape=True, trim_blocks=False)
    return env.from_string(PAGE).render(a=audit, t=_time)
