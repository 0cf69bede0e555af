/* SPDX-License-Identifier: MIT */
/* The version of hitl; keep it equal to project(VERSION) in CMakeLists.txt. */
#ifndef HITL_VERSION_H
#define HITL_VERSION_H

#define HITL_VERSION "0.1.0"

#endif
