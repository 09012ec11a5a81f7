#include "gateway/schema.h"

#include <gtest/gtest.h>

#include "api/types.h"

namespace hangar::gateway {
namespace {

TEST(SchemaTest, TypeNamesAreUnqualified) {
  EXPECT_EQ(TypeName<api::Gpu>(), "Gpu");
  EXPECT_EQ(TypeName<api::RegisterNodeRequest>(), "RegisterNodeRequest");
}

TEST(SchemaTest, DescribedStructsBecomeComponentsWithRequiredAndNullable) {
  SchemaRegistry registry;
  auto ref = registry.SchemaOf<api::Node>();
  EXPECT_EQ(ref.as_object().at("$ref").as_string(), "#/components/schemas/Node");
  const auto& node = registry.components().at("Node").as_object();
  const auto& props = node.at("properties").as_object();
  EXPECT_EQ(props.at("state").as_object().at("enum").as_array().size(), 2u);
  EXPECT_EQ(props.at("created_at").as_object().at("format").as_string(), "date-time");
  EXPECT_TRUE(props.at("last_heartbeat_at").as_object().contains("anyOf"));
  EXPECT_EQ(props.at("labels").as_object().at("type").as_string(), "object");
  const auto& required = node.at("required").as_array();
  EXPECT_NE(std::find(required.begin(), required.end(), bj::value("id")), required.end());
  EXPECT_EQ(std::find(required.begin(), required.end(), bj::value("last_heartbeat_at")),
            required.end());
  EXPECT_FALSE(node.at("additionalProperties").as_bool());
}

TEST(SchemaTest, NestedTypesAreRegisteredOnce) {
  SchemaRegistry registry;
  registry.SchemaOf<api::RegisterNodeResponse>();
  registry.SchemaOf<api::NodeList>();
  EXPECT_TRUE(registry.components().contains("AgentGpu") == false);
  EXPECT_TRUE(registry.components().contains("Node"));
  EXPECT_TRUE(registry.components().contains("RegisterNodeResponse"));
}

}  // namespace
}  // namespace hangar::gateway
