"""The community brief: two A4 pages, as HTML (prints from the browser) and as a PDF printed on the server.

Same privacy tiers as the community page (a partner's brief holds only what its pages show; any
community outside its scope is 404), and every brief made is audited. A brief that cannot be made (a bad
month, a community that does not exist or is outside the reader's scope, no printer) answers a page with
the reason in words and its status, never a JSON body.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from app.api.deps import MAX_ID, PageReader, SettingsDep, StoreDep, limit_heavy
from app.audit import audited
from app.auth import Principal
from app.errors import NotFound, ServiceError
from app.privacy import audience_for
from app.services import briefs as brief_service
from app.services.brief_pdf import html_to_pdf
from app.settings import Settings
from app.templating import error_page, page_headers, render_brief

router = APIRouter(tags=["pages"], include_in_schema=False)

# Checked by the service (a page in words for anything else, however long), not by FastAPI's JSON 422.
Period = Annotated[str | None, Query(description="The month reported, YYYY-MM (default: the latest complete)")]


@router.get("/communities/{community_id}/brief", response_class=HTMLResponse)
def brief(community_id: str, request: Request, store: StoreDep, settings: SettingsDep, user: PageReader,
          period: Period = None) -> Response:
    try:
        with audited(store, "brief.view", principal=user, request=request, target=community_id[:40]) as entry:
            entry.details = {"period": period}
            context = brief_service.community_brief(store, settings, _community_number(community_id),
                                                    audience_for(user, settings), period)
    except ServiceError as refused:
        return _refused(request, settings, user, refused, community_id)
    return HTMLResponse(render_brief(context), headers=page_headers(settings))


@router.get("/communities/{community_id}/brief.pdf")
def brief_pdf(community_id: str, request: Request, store: StoreDep, settings: SettingsDep, user: PageReader,
              period: Period = None) -> Response:
    try:
        limit_heavy(request, user, "brief")  # each PDF starts a browser
        with audited(store, "brief.pdf", principal=user, request=request, target=community_id[:40]) as entry:
            entry.details = {"period": period}
            context = brief_service.community_brief(store, settings, _community_number(community_id),
                                                    audience_for(user, settings), period)
            pdf = html_to_pdf(render_brief(context), settings)
    except ServiceError as refused:
        return _refused(request, settings, user, refused, community_id)
    name = f"brief-community-{context['community']['id']}-{context['period'] or 'latest'}.pdf"
    return Response(pdf, media_type="application/pdf",
                    headers={**page_headers(settings), "Content-Disposition": f'attachment; filename="{name}"'})


def _community_number(community_id: str) -> int:
    """The community's id from the address; anything else is a community that does not exist (404 page)."""
    if not _is_number(community_id) or not 1 <= int(community_id) <= MAX_ID:
        raise NotFound(f"There is no community {community_id[:40]!r}: the address needs the community's number, "
                       "as the communities page links it.")
    return int(community_id)


def _is_number(text: str) -> bool:
    """ASCII digits, no longer than the largest id ("²" is a digit to Python, and 5,000 digits are too many
    for int())."""
    return text.isascii() and text.isdigit() and len(text) <= len(str(MAX_ID))


def _refused(request: Request, settings: Settings, user: Principal, refused: ServiceError,
             community_id: str) -> Response:
    """A brief that cannot be made, as a page: its reason in words and the way back (a link opens the brief)."""
    if isinstance(refused, NotFound) or not _is_number(community_id):
        back = ("/", "Back to the communities")
    else:  # a bad month, or too many PDFs at once: the same brief without a month
        back = (f"/communities/{int(community_id)}/brief", "Open the brief of the latest complete month")
    return error_page(request, settings, refused.status_code, refused.message, user=user, back=back,
                      heading="This community brief cannot be made", headers=refused.headers)
