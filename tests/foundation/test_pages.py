from __future__ import annotations

import pytest


@pytest.mark.django_db
def test_home_page_renders_with_vendored_htmx_and_the_network(client):
    response = client.get("/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "Hemiscope" in html
    assert "htmx" in html and "unpkg.com" not in html and "cdn" not in html.lower()
    assert 'id="summary"' in html
    assert response["Vary"].count("HX-Request") == 1


@pytest.mark.django_db
def test_home_page_serves_only_the_partial_to_htmx(client):
    response = client.get("/", headers={"HX-Request": "true"})
    assert response.status_code == 200
    html = response.content.decode()
    assert html.lstrip().startswith('<section id="summary"')
    assert "<html" not in html


def test_static_css_is_served(live_server):
    import urllib.request

    with urllib.request.urlopen(f"{live_server.url}/static/css/hemiscope.css") as resp:
        assert resp.status == 200
        assert b"--hemi" in resp.read()
