"""Planner reservations on hosts: cleanVMReservations, releaseHostReservation (services/infra/host_reservations)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from management.api.cloudstack.envelope import Success
from management.api.cloudstack.registry import ADMIN, Params, Ref, api_command
from management.services.context import CallContext
from management.services.infra import host_reservations


class CleanVMReservationsParams(Params):
    pass


@api_command("cleanVMReservations", params=CleanVMReservationsParams, roles=ADMIN, is_async=True,
             event="VM.RESERVATION.CLEANUP", response_name="cleanvmreservationresponse",
             description="Cleanups VM reservations in the database.")
def clean_vm_reservations(ctx: CallContext, p: CleanVMReservationsParams) -> Success:
    host_reservations.clean_vm_reservations(ctx.session)
    return Success()


class ReleaseHostReservationParams(Params):
    id: Annotated[str, Ref("Host")] = Field(description="the host ID")


@api_command("releaseHostReservation", params=ReleaseHostReservationParams, roles=ADMIN, is_async=True,
             event="HOST.RESERVATION.RELEASE", entity="Host", description="Releases host reservation.")
def release_host_reservation(ctx: CallContext, p: ReleaseHostReservationParams) -> Success:
    host_reservations.release_host_reservation(ctx.session, ctx.refs["id"])
    return Success()
