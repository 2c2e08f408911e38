"""Request and response schemas of the HTTP API, one module per area (pydantic v2).

Handlers validate with these models at the edge (``server.api.validation``) and
``server.api.openapi`` publishes the same models as the OpenAPI document, so what is
documented is what is enforced.
"""
