"""`flask user create`: accounts of every role (staff: one region or city-wide)."""

from __future__ import annotations

import click

from ..clock import utcnow
from ..regions import get_region
from . import bp
from .services import (
    CITIZEN_MIN_PASSWORD,
    PHONE_RE,
    STAFF_MIN_PASSWORD,
    FieldError,
    audit,
    check_password_rules,
    create_user,
    normalize_phone,
)


@bp.cli.command("create")
@click.option(
    "--role",
    type=click.Choice(["citizen", "organizer", "staff", "admin"]),
    required=True,
)
@click.option("--phone", required=True)
@click.option("--name", required=True)
@click.option("--region", default="shizhi", show_default=True)
@click.option(
    "--staff-region", default=None, help="Staff only: the one region it sees."
)
@click.option(
    "--city-wide", is_flag=True, help="Staff only: sees every region of the city."
)
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
@click.option("--public-ranking/--no-public-ranking", default=False)
def create_command(
    role, phone, name, region, staff_region, city_wide, password, public_ranking
):
    """Create an account of any role (staff: --staff-region CODE or --city-wide)."""
    if role == "staff" and bool(staff_region) == city_wide:
        raise click.ClickException(
            "a staff account needs exactly one of --staff-region CODE or --city-wide"
        )
    if role != "staff" and (staff_region or city_wide):
        raise click.ClickException(
            "--staff-region and --city-wide are for staff accounts only"
        )
    phone = normalize_phone(phone)
    if not PHONE_RE.fullmatch(phone):
        raise click.ClickException("phone must be an 11-digit mainland mobile number")
    for code in filter(None, (region, staff_region)):
        if get_region(code) is None:
            raise click.ClickException(f"unknown region {code}")
    minimum = CITIZEN_MIN_PASSWORD if role == "citizen" else STAFF_MIN_PASSWORD
    try:
        check_password_rules(password, phone, minimum)
        user = create_user(
            name=name,
            phone=phone,
            region=region,
            password=password,
            role=role,
            public_ranking=public_ranking,
            staff_region=staff_region,
            city_wide=city_wide,
            now=utcnow(),
        )
    except FieldError as exc:
        raise click.ClickException(exc.message)
    scope = ""
    if role == "staff":
        scope = " scope:city" if city_wide else f" scope:{staff_region}"
    audit(
        "account_create",
        outcome="ok",
        ip="cli",
        obj=f"user:{user.id} {role}{scope}",
        now=utcnow(),
    )
    click.echo(f"{role} {user.phone} created")
