from tests.conftest import PASSWORD


def test_every_page_renders_for_an_admin(browser, world):
    browser.login(world.admin_a.email)
    for url in ["/cases", "/cases?assignee=all", "/clients/", "/clients/new",
                f"/clients/{world.client_a.id}", f"/clients/{world.client_a.id}/edit",
                "/cases/new", f"/cases/{world.case_a.id}", f"/cases/{world.case_a.id}/edit",
                "/admin/users", "/admin/users/new", f"/admin/users/{world.consultant_a.id}",
                "/admin/agency", "/settings/"]:
        response = browser.get(url)
        assert response.status_code == 200, url
