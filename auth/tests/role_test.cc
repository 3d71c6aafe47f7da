#include "auth/role.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace ritsu::auth {
namespace {

using ::testing::HasSubstr;

TEST(Role, NamesRoundTrip) {
  for (Role r : {Role::kWorker, Role::kSubmit, Role::kRead}) {
    EXPECT_EQ(ParseRole(RoleName(r)), r);
  }
  EXPECT_FALSE(ParseRole("admin").has_value());
  EXPECT_FALSE(ParseRole("Worker").has_value());
}

TEST(Role, PolicyTable) {
  EXPECT_TRUE(RoleMaySend(Role::kWorker, "heartbeat"));
  EXPECT_FALSE(RoleMaySend(Role::kWorker, "submit"));
  EXPECT_FALSE(RoleMaySend(Role::kWorker, "status"));

  EXPECT_TRUE(RoleMaySend(Role::kSubmit, "submit"));
  EXPECT_TRUE(RoleMaySend(Role::kSubmit, "cancel"));
  EXPECT_TRUE(RoleMaySend(Role::kSubmit, "status"));
  EXPECT_FALSE(RoleMaySend(Role::kSubmit, "register"));

  for (const char* t : {"status", "show", "logs", "workers", "explain", "sweep_status", "metrics"}) {
    EXPECT_TRUE(RoleMaySend(Role::kRead, t)) << t;
  }
  for (const char* t : {"submit", "cancel", "retry", "drain", "sweep_submit", "heartbeat"}) {
    EXPECT_FALSE(RoleMaySend(Role::kRead, t)) << t;
  }
}

TEST(Role, UnknownRequestTypeIsDeniedForEveryRole) {
  for (Role r : {Role::kWorker, Role::kSubmit, Role::kRead}) {
    EXPECT_FALSE(RoleMaySend(r, "format_disk"));
  }
  Status st = CheckPermission("alice", Role::kSubmit, "format_disk");
  EXPECT_EQ(st.code(), Status::Code::kPermissionDenied);
  EXPECT_THAT(st.message(), HasSubstr("format_disk"));
}

TEST(Role, PermissionErrorSaysWhoWhatAndWhichRoleIsNeeded) {
  Status st = CheckPermission("lab-viewer", Role::kRead, "submit");
  EXPECT_EQ(st.code(), Status::Code::kPermissionDenied);
  EXPECT_THAT(st.ToString(), HasSubstr("permission denied"));
  EXPECT_THAT(st.message(), HasSubstr("'lab-viewer' has role read"));
  EXPECT_THAT(st.message(), HasSubstr("'submit' needs role submit"));
  EXPECT_TRUE(CheckPermission("lab-viewer", Role::kRead, "status").ok());
}

}  // namespace
}  // namespace ritsu::auth
