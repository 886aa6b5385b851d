"""Plans of Action: versioned drafts, their review, comparison, exports and evidence.

- `drafts`: start from a starter, save a version, mark one final, export, review.
- `content`: the sections of a POA and the limits of each.
- `starters`: the first draft written for a case's reason, filled with its facts.
- `checks`: the review beside the editor (missing sections, blame, promises, ...), each
  rule linear in the text; `bounded_match` keeps the searches bounded.
- `diff`: two versions side by side.
- `render`: plain text, Word, PDF and the print view.
- `links`: which evidence files back a version; `bundle`: the zip for an appeal.

Stands on evidence and cases; the appeals package records which version went to Amazon.
"""
from caseapp.services.poa.bundle import bundle as evidence_bundle
from caseapp.services.poa.content import MAX_DRAFT_CHARS, SECTIONS
from caseapp.services.poa.diff import compare
from caseapp.services.poa.drafts import (
    OpenReviewErrors, Saved, content_of, export, get_draft, latest, mark_final, open_errors, review, save,
    save_version, start_from_starter, versions,
)
from caseapp.services.poa.links import copy_links, for_draft, link, links_of, unlink

__all__ = [
    "MAX_DRAFT_CHARS", "OpenReviewErrors", "SECTIONS", "Saved", "compare", "content_of", "copy_links", "evidence_bundle", "export", "for_draft",
    "get_draft", "latest", "link", "links_of", "mark_final", "open_errors", "review", "save", "save_version", "start_from_starter",
    "unlink", "versions",
]
