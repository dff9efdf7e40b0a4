"""Response objects of the platform and plugin families (quota, metrics, dedicated resources, simulator, rate
limits, maintenance, annotations, details, icons, themes, certificates, extensions, console sessions)."""

from __future__ import annotations

from pydantic import Field

from management.api.cloudstack.schemas import Resp


class JobResp(Resp):
    """BaseResponse's fields: every CloudStack response object can carry its pending job."""

    jobid: str | None = Field(None, description="the UUID of the latest async job acting on this object")
    jobstatus: int | None = Field(None, description="the current status of the latest async job acting on this "
                                  "object")


class SuccessResp(JobResp):
    success: bool = Field(description="true if operation is executed successfully")
    displaytext: str | None = Field(None, description="any text associated with the success or failure")
