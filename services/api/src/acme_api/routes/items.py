"""``/items``: the signed-in account's items.

Handlers return pre-serialised JSON (pydantic-core, straight from the
dataclasses) instead of letting FastAPI validate and encode a response
model again; ``response_model`` still documents the shape in OpenAPI.
"""

from __future__ import annotations

import uuid
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Header, Path, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from starlette.exceptions import HTTPException

from acme.items import interface
from acme.items.serializers import (
    ItemCreate,
    ItemOut,
    ItemPageOut,
    ItemPatch,
    ItemQuery,
    item_json,
    rendered_page_json,
)
from acme_api.dependencies import CurrentAccount, ItemsDeps
from acme_api.direct_route import DirectRoute
from acme_api.openapi import problems, query_parameters

router = APIRouter(prefix="/items", tags=["items"], route_class=DirectRoute)

JSON = "application/json"

ItemId = Annotated[uuid.UUID, Path(description="the item's id")]


def etag(version: int) -> str:
    """The strong entity tag of an item version."""
    return f'"{version}"'


def parse_if_match(value: str) -> frozenset[int] | None:
    """The versions an ``If-Match`` header accepts; ``None`` for ``*`` (any version).

    Weak tags never match (RFC 9110 13.1.1: If-Match uses strong comparison);
    a list with no usable tag matches nothing, so the update fails with 412.
    """
    versions = set()
    for raw in value.split(","):
        tag = raw.strip()
        if tag == "*":
            return None
        if len(tag) >= 2 and tag[0] == tag[-1] == '"' and tag[1:-1].isdigit():
            versions.add(int(tag[1:-1]))
    return frozenset(versions)


def _item_response(body: bytes, version: int, *, status: int = 200, **headers: str) -> Response:
    return Response(
        body, status_code=status, media_type=JSON, headers={"ETag": etag(version), **headers}
    )


def item_query(request: Request) -> ItemQuery:
    """The listing's query string, validated once by :class:`ItemQuery`.

    What FastAPI does for an ``Annotated[ItemQuery, Query()]`` parameter, at
    a fraction of its cost per request; errors name ``query`` the same way.

    Raises:
        RequestValidationError: an invalid or unknown parameter (422).
    """
    try:
        return ItemQuery.model_validate(dict(request.query_params))
    except ValidationError as exc:
        raise RequestValidationError(
            [{**error, "loc": ("query", *error["loc"])} for error in exc.errors()]
        ) from None


_ETAG = {"ETag": {"description": 'the version, e.g. `"3"`', "schema": {"type": "string"}}}
_LOCATION = {"Location": {"description": "the new item's URL", "schema": {"type": "string"}}}

# OpenAPI links: what a client (or a schema-driven test) can do with a new item.
_ITEM_ID = {"item_id": "$response.body#/id"}
_LINKS = {
    "GetItem": {"operationId": "get_item", "parameters": _ITEM_ID},
    "UpdateItem": {
        "operationId": "update_item",
        "parameters": _ITEM_ID | {"header.If-Match": "$response.header.ETag"},
    },
    "DeleteItem": {"operationId": "delete_item", "parameters": _ITEM_ID},
}


@router.post(
    "",
    status_code=201,
    operation_id="create_item",
    response_model=ItemOut,
    summary="Create an item",
    response_description="The new item; `Location` is its URL, `ETag` its version",
    responses={
        201: {"links": _LINKS, "headers": {**_LOCATION, **_ETAG}},
        **problems(401, 413, 422),
    },
)
async def create_item(
    request: Request, body: ItemCreate, account: CurrentAccount, deps: ItemsDeps
) -> Response:
    """Create an item owned by the signed-in account (publishes `item.created`)."""
    item = await interface.create_item(deps, owner_id=account.id, data=body)
    # The URL of get_item, built directly (url_for walks the routing table per
    # call), on the public URL: never on the Host header, which the client chose.
    location = f"{request.app.state.public_url}{router.prefix}/{item.id}"
    return _item_response(item_json(item), item.version, status=201, Location=location)


@router.get(
    "",
    operation_id="list_items",
    response_model=ItemPageOut,
    summary="List my items",
    response_description="One page; `next` (and the `Link` header) leads to the next",
    responses=problems(400, 401, 422),
    # The query string is validated in the handler (item_query), documented here.
    openapi_extra={"parameters": query_parameters(ItemQuery)},
)
async def list_items(request: Request, account: CurrentAccount, deps: ItemsDeps) -> Response:
    """The signed-in account's items, filtered, newest first unless `sort` says otherwise.

    Pages are keyset-paginated: follow `next` until it is `null`. A cursor
    only works with the filters and sort it was made for; a malformed one is
    a 400.
    """
    query = item_query(request)
    page = await interface.list_items_rendered(deps, owner_id=account.id, query=query)
    headers = {}
    next_url = None
    if page.next_cursor is not None:
        kept = [(k, v) for k, v in request.query_params.multi_items() if k != "cursor"]
        query_string = urlencode([*kept, ("cursor", page.next_cursor)])
        # This route's URL, as create_item builds one: request.url would parse the Host.
        next_url = f"{request.app.state.public_url}{router.prefix}?{query_string}"
        headers["Link"] = f'<{next_url}>; rel="next"'
    return Response(rendered_page_json(page, next_url), media_type=JSON, headers=headers)


@router.get(
    "/{item_id}",
    operation_id="get_item",
    response_model=ItemOut,
    summary="Get one of my items",
    response_description="The item; `ETag` is its version",
    responses={
        200: {"headers": _ETAG},
        304: {"description": "Not modified (`If-None-Match` matched)", "headers": _ETAG},
        **problems(401, 404, 422),
    },
)
async def get_item(
    item_id: ItemId,
    account: CurrentAccount,
    deps: ItemsDeps,
    if_none_match: Annotated[str | None, Header(max_length=1024)] = None,
) -> Response:
    """One item of the signed-in account. Another account's item is a 404."""
    item = await interface.get_item(deps, owner_id=account.id, item_id=item_id)
    if if_none_match is not None:
        tags = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
        if "*" in tags or etag(item.version) in tags:
            return Response(status_code=304, headers={"ETag": etag(item.version)})
    return _item_response(item_json(item), item.version)


@router.patch(
    "/{item_id}",
    operation_id="update_item",
    response_model=ItemOut,
    summary="Change one of my items",
    response_description="The changed item; `ETag` is its new version",
    responses={200: {"headers": _ETAG}, **problems(401, 404, 412, 413, 422, 428)},
)
async def update_item(
    item_id: ItemId,
    body: ItemPatch,
    account: CurrentAccount,
    deps: ItemsDeps,
    if_match: Annotated[
        str | None,
        Header(
            max_length=1024,
            description='the `ETag` you last saw, e.g. `"3"`; required (428 without it)',
        ),
    ] = None,
) -> Response:
    """Change the fields sent; leave out the others. 412 when the item changed meanwhile."""
    if if_match is None:
        raise HTTPException(428, "send If-Match with the item's ETag to change it")
    item = await interface.update_item(
        deps,
        owner_id=account.id,
        item_id=item_id,
        expected_versions=parse_if_match(if_match),
        patch=body,
    )
    return _item_response(item_json(item), item.version)


@router.delete(
    "/{item_id}",
    operation_id="delete_item",
    status_code=204,
    summary="Delete one of my items",
    response_description="Deleted",
    responses=problems(401, 404, 412, 422),
)
async def delete_item(
    item_id: ItemId,
    account: CurrentAccount,
    deps: ItemsDeps,
    if_match: Annotated[
        str | None, Header(max_length=1024, description="optional: delete only this version")
    ] = None,
) -> Response:
    """Delete an item of the signed-in account (publishes `item.deleted`)."""
    await interface.delete_item(
        deps,
        owner_id=account.id,
        item_id=item_id,
        expected_versions=None if if_match is None else parse_if_match(if_match),
    )
    return Response(status_code=204)
