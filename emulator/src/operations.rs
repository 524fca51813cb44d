//! The App Mesh operations the emulator serves: their names (one list), the input shape each is
//! validated against, and the store method that carries each out.

use serde_json::Value;

use crate::error::ApiError;
use crate::model::{self, Shape};
use crate::store::{Provider, Settings, Store};

/// Declares the operations served and the list of all of them, from one list of names.
macro_rules! operations {
    ($($op:ident),* $(,)?) => {
        /// The operations served, with the input shape each is validated against.
        #[derive(Debug, Clone, Copy, PartialEq)]
        pub enum Operation {
            $($op),*
        }

        impl Operation {
            pub const ALL: &[Operation] = &[$(Operation::$op),*];
        }
    };
}

operations!(
    CreateMesh,
    DescribeMesh,
    DeleteMesh,
    ListMeshes,
    CreateVirtualGateway,
    DescribeVirtualGateway,
    DeleteVirtualGateway,
    ListVirtualGateways,
    CreateVirtualService,
    DescribeVirtualService,
    DeleteVirtualService,
    ListVirtualServices,
    CreateVirtualNode,
    DescribeVirtualNode,
    DeleteVirtualNode,
    ListVirtualNodes,
    CreateVirtualRouter,
    DescribeVirtualRouter,
    DeleteVirtualRouter,
    ListVirtualRouters,
    CreateRoute,
    DescribeRoute,
    UpdateRoute,
    DeleteRoute,
    ListRoutes,
    CreateGatewayRoute,
    DescribeGatewayRoute,
    UpdateGatewayRoute,
    DeleteGatewayRoute,
    ListGatewayRoutes,
    TagResource,
    UntagResource,
    ListTagsForResource,
);

impl Operation {
    pub fn name(self) -> String {
        format!("{self:?}")
    }

    pub fn shape(self) -> &'static Shape {
        use Operation::*;
        match self {
            CreateMesh => &model::CREATE_MESH,
            DescribeMesh | DeleteMesh => &model::MESH_REF,
            ListMeshes => &model::LIST_MESHES,
            CreateVirtualGateway => &model::CREATE_VIRTUAL_GATEWAY,
            DescribeVirtualGateway | DeleteVirtualGateway => &model::VIRTUAL_GATEWAY_REF,
            ListVirtualGateways | ListVirtualServices | ListVirtualNodes | ListVirtualRouters => {
                &model::LIST_IN_MESH
            }
            CreateVirtualNode => &model::CREATE_VIRTUAL_NODE,
            DescribeVirtualNode | DeleteVirtualNode => &model::VIRTUAL_NODE_REF,
            CreateVirtualRouter => &model::CREATE_VIRTUAL_ROUTER,
            DescribeVirtualRouter | DeleteVirtualRouter => &model::VIRTUAL_ROUTER_REF,
            CreateRoute => &model::CREATE_ROUTE,
            UpdateRoute => &model::UPDATE_ROUTE,
            DescribeRoute | DeleteRoute => &model::ROUTE_REF,
            ListRoutes => &model::LIST_ROUTES,
            CreateVirtualService => &model::CREATE_VIRTUAL_SERVICE,
            DescribeVirtualService | DeleteVirtualService => &model::VIRTUAL_SERVICE_REF,
            CreateGatewayRoute => &model::CREATE_GATEWAY_ROUTE,
            UpdateGatewayRoute => &model::UPDATE_GATEWAY_ROUTE,
            DescribeGatewayRoute | DeleteGatewayRoute => &model::GATEWAY_ROUTE_REF,
            ListGatewayRoutes => &model::LIST_GATEWAY_ROUTES,
            TagResource => &model::TAG_RESOURCE,
            UntagResource => &model::UNTAG_RESOURCE,
            ListTagsForResource => &model::LIST_TAGS_FOR_RESOURCE,
        }
    }

    pub fn run(self, store: &mut Store, s: &Settings, input: &Value) -> Result<Value, ApiError> {
        use Operation::*;
        match self {
            CreateMesh => store.create_mesh(s, input),
            DescribeMesh => store.describe_mesh(s, input),
            DeleteMesh => store.delete_mesh(s, input),
            ListMeshes => store.list_meshes(s, input),
            CreateVirtualGateway => store.create_virtual_gateway(s, input),
            DescribeVirtualGateway => store.describe_virtual_gateway(s, input),
            DeleteVirtualGateway => store.delete_virtual_gateway(s, input),
            ListVirtualGateways => store.list_virtual_gateways(s, input),
            CreateVirtualService => store.create_virtual_service(s, input),
            DescribeVirtualService => store.describe_virtual_service(s, input),
            DeleteVirtualService => store.delete_virtual_service(s, input),
            ListVirtualServices => store.list_virtual_services(s, input),
            CreateVirtualNode => store.create_provider(Provider::Node, s, input),
            DescribeVirtualNode => store.describe_provider(Provider::Node, s, input),
            DeleteVirtualNode => store.delete_provider(Provider::Node, s, input),
            ListVirtualNodes => store.list_providers(Provider::Node, s, input),
            CreateVirtualRouter => store.create_provider(Provider::Router, s, input),
            DescribeVirtualRouter => store.describe_provider(Provider::Router, s, input),
            DeleteVirtualRouter => store.delete_provider(Provider::Router, s, input),
            ListVirtualRouters => store.list_providers(Provider::Router, s, input),
            CreateRoute => store.create_route(s, input),
            DescribeRoute => store.describe_route(s, input),
            UpdateRoute => store.update_route(s, input),
            DeleteRoute => store.delete_route(s, input),
            ListRoutes => store.list_routes(s, input),
            CreateGatewayRoute => store.create_gateway_route(s, input),
            DescribeGatewayRoute => store.describe_gateway_route(s, input),
            UpdateGatewayRoute => store.update_gateway_route(s, input),
            DeleteGatewayRoute => store.delete_gateway_route(s, input),
            ListGatewayRoutes => store.list_gateway_routes(s, input),
            TagResource => store.tag_resource(s, input),
            UntagResource => store.untag_resource(s, input),
            ListTagsForResource => store.list_tags_for_resource(s, input),
        }
    }
}
