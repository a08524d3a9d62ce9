"""Shapes of the sign-in and user-management API."""

from typing import Literal

from pydantic import BaseModel, Field

from app.orm import INT4_MAX

Role = Literal["admin", "official", "warden", "enterprise", "planner"]
Username = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._@-]+$")
Password = Field(min_length=8, max_length=200)


class TokenOut(BaseModel):
    access_token: str
    refresh_token: str
    token_type: Literal["bearer"]
    expires_in: int = Field(description="seconds the access token stays valid")


class RefreshIn(BaseModel):
    refresh_token: str = Field(min_length=1, max_length=2000)


class ScopeOut(BaseModel):
    region: str | None
    sectors: list[str] | None
    department: str | None
    grid_cells: list[str]
    enterprise_id: int | None


class MeOut(BaseModel):
    username: str | None
    role: str = Field(description="admin, official, warden, enterprise, planner or public")
    display_name: str | None = None
    scope: ScopeOut


class UserIn(BaseModel):
    username: str = Username
    password: str = Password
    role: Role
    display_name: str | None = Field(None, max_length=100)
    region_code: str | None = Field(None, pattern=r"^\d{6}$")
    department: str | None = Field(None, max_length=40)
    grid_cells: list[str] = Field(default_factory=list, max_length=200)
    enterprise_id: int | None = Field(None, ge=1, le=INT4_MAX)


class UserPatch(BaseModel):
    password: str | None = Field(None, min_length=8, max_length=200)
    role: Role | None = None
    display_name: str | None = Field(None, max_length=100)
    region_code: str | None = Field(None, pattern=r"^\d{6}$")
    department: str | None = Field(None, max_length=40)
    grid_cells: list[str] | None = Field(None, max_length=200)
    enterprise_id: int | None = Field(None, ge=1, le=INT4_MAX)
    disabled: bool | None = None
    version: int | None = Field(
        None, ge=1, le=INT4_MAX, description="the version edited (or send If-Match)"
    )


class UserOut(BaseModel):
    id: int
    username: str
    role: str
    display_name: str | None
    region_code: str | None
    department: str | None
    grid_cells: list[str]
    enterprise_id: int | None
    disabled: bool
    version: int
