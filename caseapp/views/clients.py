"""Seller clients: list, add, edit, delete, and each client's cases."""
from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from caseapp.forms import ClientForm
from caseapp.services.cases import records
from caseapp.services.cases import clients
from caseapp.services.cases.records import CaseFilters
from caseapp.core.errors import Conflict
from caseapp.core.parsing import page_number
from caseapp.views.helpers import save_form

bp = Blueprint("clients", __name__, url_prefix="/clients")


@bp.get("/")
@login_required
def index():
    q = request.args.get("q", "")[:200]
    page = clients.list_clients(current_user, q, page_number(request.args.get("page")), count=True)
    return render_template("clients/index.html", page=page, q=q)


@bp.route("/new", methods=["GET", "POST"])
@login_required
def new():
    form = ClientForm()
    client = form.is_submitted() and save_form(form, lambda: clients.create_client(current_user, form.data))
    if client:
        flash(f"Client {client.name} added.", "success")
        return redirect(url_for("clients.detail", client_id=client.id))
    return render_template("clients/form.html", form=form, client=None)


@bp.get("/<int:client_id>")
@login_required
def detail(client_id: int):
    client = clients.get_client(current_user, client_id)
    f = CaseFilters(client_id=client.id, assignee="all", page=page_number(request.args.get("page")))
    return render_template("clients/detail.html", client=client, page=records.list_cases(current_user, f))


@bp.route("/<int:client_id>/edit", methods=["GET", "POST"])
@login_required
def edit(client_id: int):
    client = clients.get_client(current_user, client_id)
    form = ClientForm(obj=client)
    if form.is_submitted() and save_form(form, lambda: clients.update_client(current_user, client.id, form.data)):
        flash("Client saved.", "success")
        return redirect(url_for("clients.detail", client_id=client.id))
    return render_template("clients/form.html", form=form, client=client)


@bp.post("/<int:client_id>/delete")
@login_required
def delete(client_id: int):
    try:
        clients.delete_client(current_user, client_id)
    except Conflict as error:
        flash(error.message, "danger")
        return redirect(url_for("clients.detail", client_id=client_id))
    flash("Client deleted.", "success")
    return redirect(url_for("clients.index"))
