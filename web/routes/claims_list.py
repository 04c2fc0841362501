"""The claims list (to be built: filters, search, counts, keyset pages)."""

from fastapi import APIRouter, Request
from fastapi.responses import Response

from web.deps import User
from web.templating import render

router = APIRouter()


@router.get("/claims")
def claims_list(request: Request, user: User) -> Response:
    return render(request, "claims_list.html", rows=[])
