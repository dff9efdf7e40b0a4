"""migrateNetwork: move a network to another network offering of the same kind."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from management.api.cloudstack.commands.network.networks import network_resp
from management.api.cloudstack.registry import ADMIN, Params, Ref, api_command
from management.api.cloudstack.schemas_network import NetworkResp
from management.services.context import CallContext
from management.services.network import network_migration as svc


class MigrateNetworkParams(Params):
    networkid: Annotated[str, Ref("Network")] = Field(description="the network to migrate")
    networkofferingid: Annotated[str, Ref("NetworkOffering", "read")] = Field(description="the offering to "
                                                                              "migrate the network to")
    resume: bool | None = Field(None, description="resume a migration that failed half way (a migration here "
                                "completes or changes nothing)")


@api_command("migrateNetwork", params=MigrateNetworkParams, roles=ADMIN, is_async=True, since="4.11.0",
             result_key="network", response=NetworkResp, event="NETWORK.MIGRATE", entity="Network",
             description="Moves a network to another network offering; its router is rebuilt from the new "
             "offering's services")
def migrate_network(ctx: CallContext, p: MigrateNetworkParams) -> NetworkResp:
    return network_resp(ctx, svc.migrate(ctx.session, ctx.refs["networkid"], ctx.refs["networkofferingid"]))
